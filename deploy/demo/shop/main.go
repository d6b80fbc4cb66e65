// shop: the "checkout" demo service for cprof. It serves net/http/pprof and runs a known CPU
// workload all the time (see workload.go), so cprof's agent has a real Go target to scrape. The
// demo runs it twice: production, and a canary started with -regress whose only difference is a
// CPU regression in main.applyDiscounts, which cprof's diff queries should point at.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	portFile := flag.String("port-file", "", "after listening, write the actual host:port to this file")
	regress := flag.Bool("regress", false, "canary: make main.applyDiscounts do 6x its normal work")
	cpu := flag.Float64("cpu", 0.3, "fraction of one core the workload uses on average")
	workers := flag.Int("workers", 2, "goroutines processing orders")
	flag.Parse()
	if flag.NArg() != 0 || *cpu <= 0 || *cpu > 1 || *workers < 1 {
		fmt.Fprintln(os.Stderr, "shop: takes no arguments; -cpu must be in (0, 1] and -workers at least 1")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*listen, *portFile, *regress, *cpu, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "shop:", err)
		os.Exit(1)
	}
}

func run(listen, portFile string, regress bool, cpu float64, workers int) error {
	// Sample contention so the mutex and block profiles the agent scrapes are not empty.
	runtime.SetMutexProfileFraction(5)
	runtime.SetBlockProfileRate(100000)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	if portFile != "" {
		if err := writeFileAtomic(portFile, addr+"\n"); err != nil {
			ln.Close()
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "shop: listening on %s (regress=%t)\n", addr, regress)

	var wg sync.WaitGroup
	startWorkload(ctx, &wg, regress, cpu, workers)

	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	// Requests share ctx, so a running ?seconds=N profile ends as soon as a signal arrives.
	server := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(ln) }()

	select {
	case err = <-served:
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = server.Shutdown(shutdownCtx)
		cancel()
	}
	stop()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// writeFileAtomic writes path.tmp and renames it to path, so a script polling for path never
// reads it half written.
func writeFileAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

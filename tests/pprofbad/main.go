// pprofbad: an HTTP server that plays broken pprof targets on purpose, so cprof's tests can check
// that the scraping agent copes with them. The first path segment picks the behaviour; the agent
// is pointed at base URLs such as http://127.0.0.1:PORT/truncated or
// http://127.0.0.1:PORT/good/replica3 and appends /debug/pprof/<kind> (and ?seconds=N) itself.
//
// Modes:
//
//	good       sleeps ?seconds=N (less if the client goes away), then serves the -profile file
//	html       200, text/html: a login page instead of a profile
//	notfound   404 "404 page not found"
//	error      500 "internal error"
//	slow       sends nothing until the client disconnects (at most 120 s)
//	truncated  Content-Length of the whole profile, half of its bytes, then the connection closes
//	cutgzip    a complete response whose body is the first half of the profile's gzip stream
//	garbage    200, 4096 bytes from a fixed-seed random source
//	empty      200, empty body
//	huge       200, 64 MiB of the profile's bytes repeated, no Content-Length
//	(other)    404
//
// Every request is counted under its path prefix before /debug/pprof/ (e.g. /good/r1) and its kind
// (the last path segment; "-" if empty or if the path has no /debug/pprof/, in which case the
// prefix is the whole path). GET /stats lists "PREFIX KIND COUNT" lines, sorted, and
// GET /stats?reset=1 also clears the counts.
//
// With -tls-cert FILE it serves HTTPS with a self-signed certificate for 127.0.0.1 made at start,
// written to FILE as PEM (what a client's CA bundle then trusts), and also counts the requests
// that carried the header X-Cprof-Test under the kind "header:VALUE".
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	mathrand "math/rand"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	slowLimit    = 120 * time.Second
	garbageSize  = 4096
	hugeSize     = 64 << 20
	garbageSeed  = 1
	binaryType   = "application/octet-stream"
	loginPage    = "<html><body><h1>Login required</h1></body></html>"
	pprofPathSep = "/debug/pprof/"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	portFile := flag.String("port-file", "", "after listening, write the actual host:port to this file")
	profilePath := flag.String("profile", "", "gzip'd pprof file served by the good modes (required)")
	tlsCert := flag.String("tls-cert", "", "serve HTTPS with a self-signed certificate written to this PEM file")
	flag.Parse()
	if flag.NArg() != 0 || *profilePath == "" {
		fmt.Fprintln(os.Stderr, "pprofbad: -profile FILE is required and no arguments are taken")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*listen, *portFile, *profilePath, *tlsCert); err != nil {
		fmt.Fprintln(os.Stderr, "pprofbad:", err)
		os.Exit(1)
	}
}

func run(listen, portFile, profilePath, tlsCert string) error {
	profile, err := readProfile(profilePath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if tlsCert != "" {
		config, err := selfSigned(tlsCert)
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, config)
	}
	addr := ln.Addr().String()
	if portFile != "" {
		if err := writeFileAtomic(portFile, addr+"\n"); err != nil {
			ln.Close()
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "pprofbad: listening on %s\n", addr)

	// Requests share ctx, so sleeping handlers (good, slow) return as soon as a signal arrives.
	server := &http.Server{
		Handler:           &targets{profile: profile, counts: map[countKey]int{}},
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
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// readProfile reads the profile and checks that it is a complete gzip stream, since the
// truncated and cutgzip modes only mean something if the whole file is valid.
func readProfile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err == nil {
		_, err = io.Copy(io.Discard, zr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: not a gzip'd profile: %v", path, err)
	}
	return data, nil
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

// countKey is what requests are counted by: the path before /debug/pprof/ and the last segment.
type countKey struct {
	prefix string
	kind   string
}

// targets serves every mode and counts the requests.
type targets struct {
	profile []byte

	mu     sync.Mutex
	counts map[countKey]int
}

func (t *targets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if path == "/stats" {
		t.serveStats(w, r.URL.Query().Get("reset") == "1")
		return
	}
	t.count(path, r.Header.Get("X-Cprof-Test"))
	mode := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 2)[0]
	switch mode {
	case "good":
		t.serveGood(w, r)
	case "html":
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, loginPage)
	case "notfound":
		http.NotFound(w, r)
	case "error":
		http.Error(w, "internal error", http.StatusInternalServerError)
	case "slow":
		sleep(r.Context(), slowLimit)
	case "truncated":
		t.serveTruncated(w)
	case "cutgzip":
		writeBinary(w, t.profile[:len(t.profile)/2])
	case "garbage":
		garbage := make([]byte, garbageSize)
		mathrand.New(mathrand.NewSource(garbageSeed)).Read(garbage)
		writeBinary(w, garbage)
	case "empty":
		writeBinary(w, nil)
	case "huge":
		t.serveHuge(w, r)
	default:
		http.NotFound(w, r)
	}
}

// count records one request for path (escaped, so the stats lines never contain spaces), and
// once more under the kind "header:VALUE" when it carried X-Cprof-Test (spaces as '_').
func (t *targets) count(path, header string) {
	key := countKey{prefix: path, kind: "-"}
	if i := strings.Index(path, pprofPathSep); i >= 0 {
		key.prefix = path[:i]
		if kind := path[strings.LastIndex(path, "/")+1:]; kind != "" {
			key.kind = kind
		}
	}
	t.mu.Lock()
	t.counts[key]++
	if header != "" {
		t.counts[countKey{prefix: key.prefix, kind: "header:" + strings.ReplaceAll(header, " ", "_")}]++
	}
	t.mu.Unlock()
}

// serveStats writes one "PREFIX KIND COUNT" line per key, sorted, and clears the counts if reset.
func (t *targets) serveStats(w http.ResponseWriter, reset bool) {
	t.mu.Lock()
	keys := make([]countKey, 0, len(t.counts))
	for key := range t.counts {
		keys = append(keys, key)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].prefix != keys[j].prefix {
			return keys[i].prefix < keys[j].prefix
		}
		return keys[i].kind < keys[j].kind
	})
	var b strings.Builder
	for _, key := range keys {
		fmt.Fprintf(&b, "%s %s %d\n", key.prefix, key.kind, t.counts[key])
	}
	if reset {
		t.counts = map[countKey]int{}
	}
	t.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, b.String())
}

// serveGood behaves like a healthy Go service: it takes ?seconds=N to collect, then answers.
func (t *targets) serveGood(w http.ResponseWriter, r *http.Request) {
	if seconds, err := strconv.Atoi(r.URL.Query().Get("seconds")); err == nil && seconds > 0 {
		if !sleep(r.Context(), time.Duration(seconds)*time.Second) {
			return
		}
	}
	writeBinary(w, t.profile)
}

// serveTruncated promises the whole profile, sends half of it and closes the connection. It
// writes the raw HTTP/1.1 response itself, since net/http would not send a short body.
func (t *targets) serveTruncated(w http.ResponseWriter) {
	hijacker, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack the connection", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hijacker.Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		binaryType, len(t.profile))
	buf.Write(t.profile[:len(t.profile)/2])
	buf.Flush()
}

// serveHuge streams hugeSize bytes of the profile repeated, chunked, until done or the client
// goes away.
func (t *targets) serveHuge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", binaryType)
	chunk := bytes.Repeat(t.profile, (1<<20)/len(t.profile)+1)[:1<<20]
	for left := hugeSize; left > 0 && r.Context().Err() == nil; left -= len(chunk) {
		if left < len(chunk) {
			chunk = chunk[:left]
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// writeBinary answers 200 with data as the whole body.
func writeBinary(w http.ResponseWriter, data []byte) {
	w.Header().Set("Content-Type", binaryType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

// sleep waits for d and reports true, or reports false early when ctx is done (the client went
// away or the server is stopping).
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// selfSigned makes a certificate for 127.0.0.1, valid for a day, writes it to certPath as PEM and
// returns a server configuration that presents it.
func selfSigned(certPath string) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pprofbad"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeFileAtomic(certPath, string(certPEM)); err != nil {
		return nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
}

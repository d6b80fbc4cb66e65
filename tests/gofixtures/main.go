// gofixtures: the Go side of cprof's tests. Subcommands:
//
//	toptsv [-rows] stdin: `go tool pprof -top` text; stdout: cprof's TSV (see toptsv.go)
//	write DIR      writes real profiles made with runtime/pprof into DIR (see write.go)
//	inspect FILE   prints one line of facts about a profile (see inspect.go)
package main

import (
	"fmt"
	"os"
)

const usage = "usage: gofixtures toptsv [-rows] | write DIR | inspect FILE"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	wantArgs := map[string]int{"toptsv": 0, "write": 1, "inspect": 1}
	n, known := wantArgs[os.Args[1]]
	if !known {
		fmt.Fprintf(os.Stderr, "gofixtures: unknown command %q\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
	withRows := os.Args[1] == "toptsv" && len(os.Args) == 3 && os.Args[2] == "-rows"
	if len(os.Args) != 2+n && !withRows {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "toptsv":
		err = topToTSV(os.Stdin, os.Stdout, withRows)
	case "write":
		err = writeProfiles(os.Args[2])
	case "inspect":
		err = inspectProfile(os.Args[2], os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gofixtures:", err)
		os.Exit(1)
	}
}

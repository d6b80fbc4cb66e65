// toptsv: turns the text of `go tool pprof -top -nodecount=1000000 -unit=<the type's own unit>`
// into cprof's TSV (function, flat, cum; names escaped as \\ \t \n \r), so tests can compare
// cprof-query with pprof itself. Rows whose printed names collide are summed, and pprof's
// " (inline)" and " (partial-inline)" suffixes are removed. With -rows, two more columns say how
// many rows pprof printed for the name and the largest cum among them.
package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var topRow = regexp.MustCompile(`^\s*(\S+)\s+(\S+%)\s+(\S+%)\s+(\S+)\s+(\S+%)  (.*)$`)
var leadingNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?`)

var escaper = strings.NewReplacer("\\", `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)

// parseValue reads pprof's value column, e.g. "1280000000ns", "512B", "17"; with the type's own
// unit the number is an exact integer.
func parseValue(s string) (int64, error) {
	m := leadingNumber.FindString(s)
	if m == "" {
		return 0, fmt.Errorf("no number in %q", s)
	}
	f, err := strconv.ParseFloat(m, 64)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) {
		return 0, fmt.Errorf("value %q is not an integer: pass -unit=<the sample type's unit>", s)
	}
	return int64(f), nil
}

func topToTSV(in io.Reader, out io.Writer, withRows bool) error {
	type row struct{ flat, cum, cumMax, rows int64 }
	rows := map[string]*row{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	inBody := false
	for sc.Scan() {
		line := sc.Text()
		if !inBody {
			inBody = strings.HasPrefix(strings.TrimSpace(line), "flat  flat%")
			continue
		}
		m := topRow.FindStringSubmatch(line)
		if m == nil {
			return fmt.Errorf("unexpected line in pprof -top output: %q", line)
		}
		name := strings.TrimSuffix(strings.TrimSuffix(m[6], " (partial-inline)"), " (inline)")
		flat, err := parseValue(m[1])
		if err != nil {
			return err
		}
		cum, err := parseValue(m[4])
		if err != nil {
			return err
		}
		r := rows[name]
		if r == nil {
			r = &row{}
			rows[name] = r
		}
		r.flat += flat
		r.cum += cum
		r.rows++
		if r.rows == 1 || cum > r.cumMax {
			r.cumMax = cum
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !inBody {
		return fmt.Errorf("no table header in pprof -top output")
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	w := bufio.NewWriter(out)
	if withRows {
		fmt.Fprintln(w, "function\tflat\tcum\tcum_max\trows")
	} else {
		fmt.Fprintln(w, "function\tflat\tcum")
	}
	for _, n := range names {
		r := rows[n]
		if withRows {
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\n", escaper.Replace(n), r.flat, r.cum, r.cumMax, r.rows)
		} else {
			fmt.Fprintf(w, "%s\t%d\t%d\n", escaper.Replace(n), r.flat, r.cum)
		}
	}
	return w.Flush()
}

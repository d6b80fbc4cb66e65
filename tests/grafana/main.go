// grafana-sql: cprof's Grafana dashboards (deploy/grafana/dashboards/*.json) as Grafana runs
// them, for tests against a real PostgreSQL. Grafana's PostgreSQL datasource turns a panel's SQL
// into the SQL it executes in two steps: the browser replaces the template variables
// (variables.go), the server then replaces the interval and the macros (macros.go); this program
// does both, the same way, so that the dashboards' SQL can be run with psql.
//
//	grafana-sql expand --from T --to T [--interval D] [--var NAME=VALUE]... [--out DIR] DASHBOARD.json
//	    every query variable's SQL, then every panel target's, expanded for the time range [T, T]
//	    (RFC 3339; Grafana sends milliseconds), the panels' interval D (default 1m; a panel's own
//	    minimum interval wins when larger) and the variables' values (--var NAME='$__all' selects
//	    All; repeated for several values; else the dashboard's current value). Without --out,
//	    one record per query on stdout: a line "## KIND ID REFID TYPE FORMAT TITLE", the SQL,
//	    an empty line. With --out, the SQL in DIR/NNN.sql and the records' first lines on stdout as
//	    TSV: file, kind, id, refId, type, format, title.
//	grafana-sql validate --uid UID DASHBOARD.json...
//	    checks each dashboard's structure (dashboard.go) against the provisioned datasource uid
//	    UID; prints one line per problem and exits 1 when there is any. Uids must be unique.
//
// Exit status: 0 done, 1 a dashboard is bad or a query cannot be expanded, 2 usage.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: grafana-sql expand --from T --to T [--interval D] [--var NAME=VALUE]... [--out DIR] DASHBOARD.json\n"+
		"       grafana-sql validate --uid UID DASHBOARD.json...")
	os.Exit(2)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "expand":
		os.Exit(cmdExpand(os.Args[2:]))
	case "validate":
		os.Exit(cmdValidate(os.Args[2:]))
	}
	usage()
}

func cmdValidate(args []string) int {
	fs := flag.NewFlagSet("validate", flag.ExitOnError)
	uid := fs.String("uid", "", "the provisioned datasource's uid")
	fs.Usage = usage
	_ = fs.Parse(args)
	if *uid == "" || fs.NArg() == 0 {
		usage()
	}
	status := 0
	uids := map[string]string{}
	for _, file := range fs.Args() {
		d, err := loadDashboard(file)
		if err != nil {
			fmt.Println(err)
			status = 1
			continue
		}
		problems := validate(d, *uid)
		if other, ok := uids[d.UID]; ok && d.UID != "" {
			problems = append(problems, fmt.Sprintf("%s: uid %s is also %s's", file, d.UID, other))
		}
		uids[d.UID] = file
		for _, p := range problems {
			fmt.Println(p)
			status = 1
		}
	}
	return status
}

func parseTime(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("--%s: want an RFC 3339 time, got %q", name, s)
	}
	return time.UnixMilli(t.UnixMilli()).UTC(), nil
}

func cmdExpand(args []string) int {
	fs := flag.NewFlagSet("expand", flag.ExitOnError)
	fromText := fs.String("from", "", "the range's start, RFC 3339")
	toText := fs.String("to", "", "the range's end, RFC 3339")
	intervalText := fs.String("interval", "1m", "the panels' interval")
	out := fs.String("out", "", "a folder for the SQL files")
	var sets multiFlag
	fs.Var(&sets, "var", "NAME=VALUE (repeatable)")
	fs.Usage = usage
	_ = fs.Parse(args)
	if fs.NArg() != 1 || *fromText == "" || *toText == "" {
		usage()
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "grafana-sql:", err)
		return 1
	}
	from, err := parseTime("from", *fromText)
	if err != nil {
		return fail(err)
	}
	to, err := parseTime("to", *toText)
	if err != nil {
		return fail(err)
	}
	interval, err := parseInterval(*intervalText)
	if err != nil {
		return fail(fmt.Errorf("--interval: %v", err))
	}
	d, err := loadDashboard(fs.Arg(0))
	if err != nil {
		return fail(err)
	}
	given := map[string][]string{}
	for _, s := range sets {
		name, value, ok := strings.Cut(s, "=")
		if !ok {
			return fail(fmt.Errorf("--var %q: want NAME=VALUE", s))
		}
		given[name] = append(given[name], value)
	}
	vars, err := dashboardVariables(d, given)
	if err != nil {
		return fail(err)
	}
	tr := timeRange{From: from, To: to}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return fail(err)
		}
	}
	for i, q := range d.queries() {
		sql, err := expandQuery(q, vars, tr, interval)
		if err != nil {
			return fail(fmt.Errorf("%s: %s %s (%s) %s: %v", d.File, q.Kind, q.ID, q.Title, q.RefID, err))
		}
		fields := []string{q.Kind, q.ID, q.RefID, q.Type, q.Format, q.Title}
		if *out == "" {
			fmt.Printf("## %s\n%s\n\n", strings.Join(fields, " "), sql)
			continue
		}
		name := fmt.Sprintf("%03d.sql", i+1)
		if err := os.WriteFile(filepath.Join(*out, name), []byte(sql+"\n"), 0o644); err != nil {
			return fail(err)
		}
		fmt.Println(name + "\t" + strings.Join(fields, "\t"))
	}
	return 0
}

// dashboardVariables takes the dashboard's variables with the values given, else their current
// values.
func dashboardVariables(d *dashboard, given map[string][]string) (map[string]*variable, error) {
	vars := map[string]*variable{}
	for _, tv := range d.variables() {
		v := &variable{}
		v.Name, _ = tv["name"].(string)
		v.Multi, _ = tv["multi"].(bool)
		v.IncludeAll, _ = tv["includeAll"].(bool)
		v.AllValue, _ = tv["allValue"].(string)
		if opts, ok := tv["options"].([]interface{}); ok {
			for _, o := range opts {
				if oo, ok := o.(object); ok {
					if s, ok := oo["value"].(string); ok && s != allValue {
						v.Options = append(v.Options, s)
					}
				}
			}
		}
		if vals, ok := given[v.Name]; ok {
			v.Value = vals
			delete(given, v.Name)
		} else if c, ok := tv["current"].(object); ok {
			switch x := c["value"].(type) {
			case string:
				v.Value = []string{x}
			case []interface{}:
				for _, e := range x {
					if s, ok := e.(string); ok {
						v.Value = append(v.Value, s)
					}
				}
			}
		}
		if v.Value == nil {
			return nil, fmt.Errorf("variable %s has no current value: give --var %s=VALUE", v.Name, v.Name)
		}
		vars[v.Name] = v
	}
	for name := range given {
		return nil, fmt.Errorf("--var %s: the dashboard has no such variable", name)
	}
	return vars, nil
}

// expandQuery turns a query's SQL into what Grafana executes: the browser's variable
// replacement, then the server's interval and macros.
func expandQuery(q query, vars map[string]*variable, tr timeRange, interval time.Duration) (string, error) {
	ip := &interpolator{vars: vars, scoped: map[string]scoped{
		"__from": {Text: fmt.Sprint(tr.From.UnixMilli()), Number: true},
		"__to":   {Text: fmt.Sprint(tr.To.UnixMilli()), Number: true},
	}}
	if q.Kind == "variable" {
		interval = 0 // a variable's query is sent without an interval
	} else {
		if q.Interval != "" {
			min, err := parseInterval(q.Interval)
			if err != nil {
				return "", fmt.Errorf("the panel's interval %q: %v", q.Interval, err)
			}
			if min > interval {
				interval = min
			}
		}
		ip.scoped["__interval"] = scoped{Text: formatInterval(interval)}
		ip.scoped["__interval_ms"] = scoped{Text: fmt.Sprint(interval.Milliseconds()), Number: true}
	}
	sql, err := ip.replace(q.SQL, true)
	if err != nil {
		return "", err
	}
	sql = interpolateGlobal(sql, tr, interval)
	return interpolateMacros(sql, tr, nil)
}

// Tests of the browser-side variable replacement (variables.go) and of the validator's SQL rules
// (dashboard.go): the SQL datasource's quoting, All with a custom value, formats, references
// that are not variables, and what the validator refuses.
package main

import (
	"strings"
	"testing"
	"time"
)

func testVars() map[string]*variable {
	return map[string]*variable{
		"service": {Name: "service", Value: []string{"sh'op"}},
		"env":     {Name: "env", IncludeAll: true, AllValue: "NULL", Value: []string{"can'ary"}},
		"version": {Name: "version", IncludeAll: true, AllValue: "NULL", Value: []string{allValue}},
		"zone":    {Name: "zone", IncludeAll: true, Options: []string{"a", "b"}, Value: []string{allValue}},
		"hosts":   {Name: "hosts", Multi: true, Value: []string{"x", "y'z"}},
	}
}

func TestSQLRule(t *testing.T) {
	ip := &interpolator{vars: testVars(), scoped: map[string]scoped{
		"__interval": {Text: "1m"}, "__interval_ms": {Text: "60000", Number: true}}}
	cases := []struct{ in, want string }{
		{"'$service'", "'sh''op'"},
		{"'${service}'", "'sh''op'"},
		{"'[[service]]'", "'sh''op'"},
		{"$env", "'can''ary'"},
		{"$version", "NULL"},
		{"$zone", "'a','b'"},
		{"$hosts", "'x','y''z'"},
		{"${service:sqlstring}", "'sh''op'"},
		{"${service:raw}", "sh'op"},
		{"${version:text}", "All"},
		{"${hosts:csv}", "x,y'z"},
		{"${hosts:pipe}", "x|y'z"},
		{"${hosts}", "'x','y''z'"},
		{"$__interval $__interval_ms", "1m 60000"},
		{"$__timeFilter(t) $nothing ${nothing}", "$__timeFilter(t) $nothing ${nothing}"},
		{"$service_x", "$service_x"},
	}
	for _, c := range cases {
		got, err := ip.replace(c.in, true)
		if err != nil || got != c.want {
			t.Errorf("%q: got %q (%v), want %q", c.in, got, err, c.want)
		}
	}
	if got, _ := ip.replace("$service", false); got != "sh'op" {
		t.Errorf("glob format: got %q", got)
	}
}

func TestExpandQuery(t *testing.T) {
	tr := timeRange{time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC), time.Date(2024, 1, 2, 4, 4, 5, 0, time.UTC)}
	q := query{Kind: "panel", SQL: "SELECT $__timeGroupAlias(at, $__interval), x FROM t WHERE $__timeFilter(at) AND s = '$service' AND e = $env AND $__interval_ms > 0", Interval: "2m"}
	got, err := expandQuery(q, testVars(), tr, time.Minute)
	want := `SELECT floor(extract(epoch from at)/120)*120 AS "time", x FROM t WHERE at BETWEEN '2024-01-02T03:04:05.678Z' AND '2024-01-02T04:04:05Z' AND s = 'sh''op' AND e = 'can''ary' AND 120000 > 0`
	if err != nil || got != want {
		t.Errorf("got  %q (%v)\nwant %q", got, err, want)
	}
	q = query{Kind: "variable", SQL: "SELECT $__interval_ms, '$__interval'"}
	if got, _ := expandQuery(q, testVars(), tr, time.Minute); got != "SELECT 0, '1ms'" {
		t.Errorf("variable query: got %q", got)
	}
}

func TestCheckSQL(t *testing.T) {
	vars := map[string]object{
		"service": {"name": "service", "includeAll": false},
		"env":     {"name": "env", "includeAll": true, "allValue": "NULL"},
	}
	good := []string{
		"SELECT * FROM cprof.top($__timeFrom(), $__timeTo(), 'cpu', 'cpu', '$service', $env)",
		"SELECT 'it''s -- not a comment', \"a--b\" WHERE $__timeFilter(at)",
		"SELECT $__interval_ms * interval '1 ms'",
	}
	for _, s := range good {
		v := &validator{}
		v.checkSQL("q", s, vars, panelBuiltins)
		if len(v.problems) > 0 {
			t.Errorf("%q refused: %v", s, v.problems)
		}
	}
	bad := map[string]string{
		"SELECT $service":                   "inside single quotes",
		"SELECT '$env'":                     "write it bare",
		"SELECT $nope":                      "not a variable",
		"SELECT ${service:sqlstring}":       "no format",
		"SELECT 1 -- hi":                    "comment",
		"SELECT /* hi */ 1":                 "comment",
		"SELECT E'$service'":                "E''",
		"SELECT 'x":                         "unterminated",
		"SELECT $$x$$":                      "dollar",
		"SELECT $__timeFilter":              "without its",
		"SELECT $__nope()":                  "not a built-in",
		"SELECT $__interval_ms FROM $env x": "",
	}
	for s, want := range bad {
		v := &validator{}
		builtins := panelBuiltins
		if want == "" {
			builtins, want = variableBuiltins, "not a built-in"
		}
		v.checkSQL("q", s, vars, builtins)
		if len(v.problems) == 0 || !strings.Contains(strings.Join(v.problems, "\n"), want) {
			t.Errorf("%q: problems %v, want one with %q", s, v.problems, want)
		}
	}
}

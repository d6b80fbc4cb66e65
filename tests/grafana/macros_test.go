// Tests of the server-side expansion (macros.go): every macro over a five-minute range, time
// filters over ranges before 1970 and with fractional seconds, the alias a $__timeGroup followed
// by a comma gets, errors and fill modes, and the interval substitution shared by SQL datasources.
package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func expandMacros(t *testing.T, tr timeRange, sql string) string {
	t.Helper()
	out, err := interpolateMacros(sql, tr, nil)
	if err != nil {
		t.Fatalf("%q: %v", sql, err)
	}
	return out
}

func TestMacrosFiveMinutes(t *testing.T) {
	from := time.Date(2018, 4, 12, 18, 0, 0, 0, time.UTC)
	to := from.Add(5 * time.Minute)
	tr := timeRange{From: from, To: to}
	cases := []struct{ in, want string }{
		{"select $__time(time_column)", `select time_column AS "time"`},
		{"select min($__time(time_column))", `select min(time_column AS "time")`},
		{"WHERE $__timeFilter(time_column)", fmt.Sprintf("WHERE time_column BETWEEN '%s' AND '%s'",
			from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))},
		{"select $__timeFrom()", "select '2018-04-12T18:00:00Z'"},
		{"select $__timeTo()", "select '2018-04-12T18:05:00Z'"},
		// a $__timeGroup followed by a comma gets the alias (compatibility with Grafana 5.2)
		{"SELECT $__timeGroup(time_column,'5m'), value", `SELECT floor(extract(epoch from time_column)/300)*300 AS "time", value`},
		{"SELECT $__timeGroup(time_column,'5m') as time, value", "SELECT floor(extract(epoch from time_column)/300)*300 as time, value"},
		{"SELECT $__timeGroup(time_column,'5m')", "SELECT floor(extract(epoch from time_column)/300)*300"},
		{"SELECT $__timeGroupAlias(time_column,'5m')", `SELECT floor(extract(epoch from time_column)/300)*300 AS "time"`},
		{"$__timeGroup(time_column , '5m')", "floor(extract(epoch from time_column)/300)*300"},
		{"$__timeGroupAlias(time_column , '5m')", `floor(extract(epoch from time_column)/300)*300 AS "time"`},
		{"select $__unixEpochFilter(time)", fmt.Sprintf("select time >= %d AND time <= %d", from.Unix(), to.Unix())},
		{"select $__unixEpochNanoFilter(time)", fmt.Sprintf("select time >= %d AND time <= %d", from.UnixNano(), to.UnixNano())},
		{"select $__unixEpochNanoFrom()", fmt.Sprintf("select %d", from.UnixNano())},
		{"select $__unixEpochNanoTo()", fmt.Sprintf("select %d", to.UnixNano())},
		{"SELECT $__unixEpochGroup(time_column+time_adjustment,'5m')", "SELECT floor((time_column+time_adjustment)/300)*300"},
		{"SELECT $__unixEpochGroupAlias(time_column+time_adjustment,'5m')", `SELECT floor((time_column+time_adjustment)/300)*300 AS "time"`},
	}
	for _, c := range cases {
		if got := expandMacros(t, tr, c.in); got != c.want {
			t.Errorf("%q:\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestMacrosOldAndFractionalRanges(t *testing.T) {
	for _, tr := range []timeRange{
		{time.Date(1960, 2, 1, 7, 0, 0, 0, time.UTC), time.Date(1965, 2, 3, 8, 0, 0, 0, time.UTC)},
		{time.Date(1960, 2, 1, 7, 0, 0, 0, time.UTC), time.Date(1980, 2, 3, 8, 0, 0, 0, time.UTC)},
		{time.Date(1960, 2, 1, 7, 0, 0, 500e6, time.UTC), time.Date(1980, 2, 3, 8, 0, 0, 500e6, time.UTC)},
	} {
		want := fmt.Sprintf("WHERE time_column BETWEEN '%s' AND '%s'", tr.From.Format(time.RFC3339Nano), tr.To.Format(time.RFC3339Nano))
		if got := expandMacros(t, tr, "WHERE $__timeFilter(time_column)"); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		want = fmt.Sprintf("select time >= %d AND time <= %d", tr.From.Unix(), tr.To.Unix())
		if got := expandMacros(t, tr, "select $__unixEpochFilter(time)"); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		want = fmt.Sprintf("select time >= %d AND time <= %d", tr.From.UnixNano(), tr.To.UnixNano())
		if got := expandMacros(t, tr, "select $__unixEpochNanoFilter(time)"); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	half := time.Date(1960, 2, 1, 7, 0, 0, 500e6, time.UTC)
	if got := expandMacros(t, timeRange{half, half}, "$__timeFrom()"); got != "'1960-02-01T07:00:00.5Z'" {
		t.Errorf("fractional seconds: got %s", got)
	}
}

func TestMacroErrors(t *testing.T) {
	tr := timeRange{time.Unix(0, 0), time.Unix(60, 0)}
	for _, in := range []string{"$__timeGroup(t)", "$__timeGroup(t, 'x5')", "$__nope()", "$__timeGroup(t, '1m', bad)"} {
		if out, err := interpolateMacros(in, tr, nil); err == nil {
			t.Errorf("%q: no error, got %q", in, out)
		}
	}
	var fill fillMode
	if _, err := interpolateMacros("$__timeGroup(t, '1m', NULL)", tr, &fill); err != nil || !fill.Fill || fill.Mode != "null" {
		t.Errorf("fill NULL: %v %+v", err, fill)
	}
	if _, err := interpolateMacros("$__timeGroup(t, '1m', 0)", tr, &fill); err != nil || fill.Mode != "value" {
		t.Errorf("fill 0: %v %+v", err, fill)
	}
}

func TestIntervals(t *testing.T) {
	tr := timeRange{time.Date(2018, 4, 12, 18, 0, 0, 0, time.UTC), time.Date(2018, 4, 12, 18, 5, 0, 0, time.UTC)}
	got := interpolateGlobal("$__interval $__interval_ms $__unixEpochFrom() $__unixEpochTo()", tr, 10*time.Minute)
	if want := fmt.Sprintf("10m 600000 %d %d", tr.From.Unix(), tr.To.Unix()); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := interpolateGlobal("$__interval/$__interval_ms", tr, 0); got != "1ms/0" {
		t.Errorf("no interval: got %q", got)
	}
	for d, want := range map[time.Duration]string{500 * time.Millisecond: "500ms", 30 * time.Second: "30s",
		90 * time.Second: "1m", 2 * time.Hour: "2h", 49 * time.Hour: "2d", 400 * 24 * time.Hour: "1y"} {
		if got := formatInterval(d); got != want {
			t.Errorf("formatInterval(%v) = %s, want %s", d, got, want)
		}
	}
	for in, want := range map[string]string{"'1d'": "86400", "'12d'": "1.0368e+06", "'20ms'": "0.02", "'1h'": "3600"} {
		got := expandMacros(t, tr, "$__timeGroup(c, "+in+")")
		if !strings.Contains(got, "/"+want+")*"+want) {
			t.Errorf("$__timeGroup(c, %s) = %s, want seconds %s", in, got, want)
		}
	}
}

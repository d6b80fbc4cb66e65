// The server side of Grafana's PostgreSQL datasource: what its backend does to a query's SQL
// after the browser has replaced the template variables. First the substitutions every SQL
// datasource shares ($__interval_ms, $__interval, $__unixEpochFrom(), $__unixEpochTo()), then
// the PostgreSQL macros ($__timeFilter(col), $__timeGroup(col, '5m'[, fill]), ...), each call
// `$__name(args)` replaced in one pass. Written to behave exactly as Grafana does, quirks
// included: arguments are split at every comma and trimmed of spaces, a $__timeGroup directly
// followed by a comma (looked up at its first occurrence in the text) gets ` AS "time"`, and
// times are printed in UTC as RFC 3339 with nanoseconds (trailing zeros dropped).
package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A macro call: $name(arguments), the arguments without a closing parenthesis.
var macroCall = regexp.MustCompile(`\$([_a-zA-Z0-9]+)\(([^\)]*)\)`)

// timeRange is a query's time range as the backend receives it (milliseconds since the epoch).
type timeRange struct {
	From, To time.Time
}

// fillMode records the fill argument of $__timeGroup: the backend then fills missing points of
// the time series it returns (none when Fill is false).
type fillMode struct {
	Fill     bool
	Interval time.Duration
	Mode     string // null, previous or value
	Value    float64
}

// interpolateGlobal is the substitution shared by Grafana's SQL datasources, done before the
// datasource's own macros. interval is the query's interval (0 for a variable's query).
func interpolateGlobal(sql string, tr timeRange, interval time.Duration) string {
	sql = strings.ReplaceAll(sql, "$__interval_ms", strconv.FormatInt(interval.Milliseconds(), 10))
	sql = strings.ReplaceAll(sql, "$__interval", formatInterval(interval))
	sql = strings.ReplaceAll(sql, "$__unixEpochFrom()", fmt.Sprintf("%d", tr.From.UTC().Unix()))
	sql = strings.ReplaceAll(sql, "$__unixEpochTo()", fmt.Sprintf("%d", tr.To.UTC().Unix()))
	return sql
}

// interpolateMacros replaces the PostgreSQL datasource's macros (no TimescaleDB). The first
// error stops the expansion, as in Grafana.
func interpolateMacros(sql string, tr timeRange, fill *fillMode) (string, error) {
	var macroErr error
	var out strings.Builder
	last := 0
	for _, m := range macroCall.FindAllStringSubmatchIndex(sql, -1) {
		whole, name, argText := sql[m[0]:m[1]], sql[m[2]:m[3]], sql[m[4]:m[5]]
		if name == "__timeGroup" {
			if i := strings.Index(sql, whole); i >= 0 {
				i += len(whole)
				if len(sql) > i && sql[i] == ',' {
					name = "__timeGroupAlias"
				}
			}
		}
		args := strings.Split(argText, ",")
		for i, a := range args {
			args[i] = strings.Trim(a, " ")
		}
		res, err := evaluateMacro(tr, fill, name, args)
		if err != nil && macroErr == nil {
			macroErr = err
			res = "macro_error()"
		}
		out.WriteString(sql[last:m[0]])
		out.WriteString(res)
		last = m[1]
	}
	if macroErr != nil {
		return "", macroErr
	}
	out.WriteString(sql[last:])
	return out.String(), nil
}

func evaluateMacro(tr timeRange, fill *fillMode, name string, args []string) (string, error) {
	from, to := tr.From.UTC(), tr.To.UTC()
	switch name {
	case "__time":
		if len(args) == 0 {
			return "", fmt.Errorf("missing time column argument for macro %v", name)
		}
		return fmt.Sprintf("%s AS \"time\"", args[0]), nil
	case "__timeEpoch":
		if len(args) == 0 {
			return "", fmt.Errorf("missing time column argument for macro %v", name)
		}
		return fmt.Sprintf("extract(epoch from %s) as \"time\"", args[0]), nil
	case "__timeFilter":
		if len(args) == 0 {
			return "", fmt.Errorf("missing time column argument for macro %v", name)
		}
		return fmt.Sprintf("%s BETWEEN '%s' AND '%s'", args[0], from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano)), nil
	case "__timeFrom":
		return fmt.Sprintf("'%s'", from.Format(time.RFC3339Nano)), nil
	case "__timeTo":
		return fmt.Sprintf("'%s'", to.Format(time.RFC3339Nano)), nil
	case "__timeGroup", "__unixEpochGroup":
		if len(args) < 2 {
			return "", fmt.Errorf("macro %v needs time column and interval and optional fill value", name)
		}
		interval, err := parseInterval(strings.Trim(args[1], `'`))
		if err != nil {
			return "", fmt.Errorf("error parsing interval %v", args[1])
		}
		if len(args) == 3 {
			if err := setupFillMode(fill, interval, args[2]); err != nil {
				return "", err
			}
		}
		if name == "__unixEpochGroup" {
			return fmt.Sprintf("floor((%s)/%v)*%v", args[0], interval.Seconds(), interval.Seconds()), nil
		}
		return fmt.Sprintf("floor(extract(epoch from %s)/%v)*%v", args[0], interval.Seconds(), interval.Seconds()), nil
	case "__timeGroupAlias", "__unixEpochGroupAlias":
		tg, err := evaluateMacro(tr, fill, strings.TrimSuffix(name, "Alias"), args)
		if err != nil {
			return "", err
		}
		return tg + " AS \"time\"", nil
	case "__unixEpochFilter":
		if len(args) == 0 {
			return "", fmt.Errorf("missing time column argument for macro %v", name)
		}
		return fmt.Sprintf("%s >= %d AND %s <= %d", args[0], from.Unix(), args[0], to.Unix()), nil
	case "__unixEpochNanoFilter":
		if len(args) == 0 {
			return "", fmt.Errorf("missing time column argument for macro %v", name)
		}
		return fmt.Sprintf("%s >= %d AND %s <= %d", args[0], from.UnixNano(), args[0], to.UnixNano()), nil
	case "__unixEpochNanoFrom":
		return fmt.Sprintf("%d", from.UnixNano()), nil
	case "__unixEpochNanoTo":
		return fmt.Sprintf("%d", to.UnixNano()), nil
	}
	return "", fmt.Errorf("unknown macro %q", name)
}

// macroNames are the macros above and the shared ones, for the validator.
var macroNames = map[string]bool{
	"__time": true, "__timeEpoch": true, "__timeFilter": true, "__timeFrom": true, "__timeTo": true,
	"__timeGroup": true, "__timeGroupAlias": true, "__unixEpochFilter": true, "__unixEpochNanoFilter": true,
	"__unixEpochNanoFrom": true, "__unixEpochNanoTo": true, "__unixEpochGroup": true,
	"__unixEpochGroupAlias": true, "__unixEpochFrom": true, "__unixEpochTo": true,
}

func setupFillMode(fill *fillMode, interval time.Duration, mode string) error {
	f := fillMode{Fill: true, Interval: interval}
	switch mode {
	case "NULL":
		f.Mode = "null"
	case "previous":
		f.Mode = "previous"
	default:
		v, err := strconv.ParseFloat(mode, 64)
		if err != nil {
			return fmt.Errorf("error parsing fill value %v", mode)
		}
		f.Mode, f.Value = "value", v
	}
	if fill != nil {
		*fill = f
	}
	return nil
}

var dateUnit = regexp.MustCompile(`^(\d+)([dwMy])$`)

// parseInterval reads an interval as Grafana does: Go durations (ms, s, m, h, ...) or a number of
// days, weeks, months or years, the last ones measured from now in UTC.
func parseInterval(s string) (time.Duration, error) {
	m := dateUnit.FindStringSubmatch(s)
	if m == nil {
		return time.ParseDuration(s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, err
	}
	now := time.Now().UTC()
	switch m[2] {
	case "d":
		return now.AddDate(0, 0, n).Sub(now), nil
	case "w":
		return now.AddDate(0, 0, n*7).Sub(now), nil
	case "M":
		return now.AddDate(0, n, 0).Sub(now), nil
	}
	return now.AddDate(n, 0, 0).Sub(now), nil
}

// formatInterval prints an interval in Grafana's short form (its largest whole unit: 1y, 2d,
// 3h, 5m, 10s, 20ms; "1ms" below a millisecond).
func formatInterval(d time.Duration) string {
	year, day := 365*24*time.Hour, 24*time.Hour
	switch {
	case d >= year:
		return fmt.Sprintf("%dy", d/year)
	case d >= day:
		return fmt.Sprintf("%dd", d/day)
	case d >= time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d >= time.Second:
		return fmt.Sprintf("%ds", d/time.Second)
	case d >= time.Millisecond:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return "1ms"
}

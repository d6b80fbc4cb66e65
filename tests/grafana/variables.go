// The browser side of Grafana's PostgreSQL datasource: how a dashboard's template variables are
// put into a query's SQL before it is sent. Grafana's template service finds every reference
// ($name, ${name}, ${name:format}, [[name]], [[name:format]]) and replaces it; a reference to
// no variable is left as it is (the backend's macros are such references). The value is
// formatted by the named format, else by the SQL datasource's own rule:
//   - a variable that is multi-value or has an "All" option: each value in single quotes, its
//     own single quotes doubled, several joined by commas;
//   - any other variable: its value with single quotes doubled, not quoted (write '$name').
//
// "All" selected: the variable's custom all value is put in as it is (no format; variables in it
// are replaced in turn), else all its option values, formatted.
package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// A template variable reference, as Grafana's template service finds them.
var variableRef = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

// allValue is the value of a variable whose "All" option is selected.
const allValue = "$__all"

// variable is what the interpolation needs of a dashboard's template variable.
type variable struct {
	Name       string
	Multi      bool
	IncludeAll bool
	AllValue   string   // the custom all value ("" when none)
	Options    []string // option values (without "All"), used when All has no custom value
	Value      []string // the current value(s); [allValue] when All is selected
}

// scoped is a value given for this query only (Grafana's scoped variables: $__interval, ...).
type scoped struct {
	Text   string
	Number bool // a number: put in as it is by the SQL rule
}

// reference is one variable reference found in SQL.
type reference struct {
	Start, End int
	Name       string
	Format     string
	FieldPath  string
}

// findReferences lists the variable references of sql in order.
func findReferences(sql string) []reference {
	var refs []reference
	for _, m := range variableRef.FindAllStringSubmatchIndex(sql, -1) {
		g := func(i int) string {
			if m[2*i] < 0 {
				return ""
			}
			return sql[m[2*i]:m[2*i+1]]
		}
		r := reference{Start: m[0], End: m[1]}
		r.Name = g(1) + g(2) + g(4)
		r.Format = g(3) + g(6)
		r.FieldPath = g(5)
		refs = append(refs, r)
	}
	return refs
}

// interpolator replaces template variables as Grafana's browser code does for a SQL datasource.
type interpolator struct {
	vars   map[string]*variable
	scoped map[string]scoped
}

// replace replaces every reference in sql; sqlRule says whether references without a format
// use the SQL datasource's rule (true) or Grafana's default (glob) format.
func (ip *interpolator) replace(sql string, sqlRule bool) (string, error) {
	var out strings.Builder
	last := 0
	for _, r := range findReferences(sql) {
		out.WriteString(sql[last:r.Start])
		last = r.End
		text, err := ip.one(sql[r.Start:r.End], r, sqlRule)
		if err != nil {
			return "", err
		}
		out.WriteString(text)
	}
	out.WriteString(sql[last:])
	return out.String(), nil
}

func (ip *interpolator) one(match string, r reference, sqlRule bool) (string, error) {
	if r.FieldPath != "" {
		return "", fmt.Errorf("%s: field paths are not supported", match)
	}
	v := ip.vars[r.Name]
	if s, ok := ip.scoped[r.Name]; ok {
		if r.Format == "" && sqlRule {
			if s.Number {
				return s.Text, nil
			}
			return sqlRuleOne(s.Text, v), nil
		}
		return formatValue([]string{s.Text}, false, r.Format, match)
	}
	if v == nil {
		return match, nil // not a variable: left for the backend
	}
	values := v.Value
	if len(values) == 1 && values[0] == allValue {
		if r.Format == "text" {
			return "All", nil
		}
		if v.AllValue != "" && r.Format != "percentencode" {
			// put in as it is, its own references replaced without this query's scoped values
			return (&interpolator{vars: ip.vars}).replace(v.AllValue, false)
		}
		if len(v.Options) == 0 {
			return "", fmt.Errorf("%s: All is selected, and the variable has neither a custom all value nor options", match)
		}
		values = append([]string{}, v.Options...)
	}
	if len(values) == 0 {
		return "", nil
	}
	// several values, a multi-value variable's, or All's list of options: an array to Grafana
	isArray := len(values) > 1 || v.Multi || (len(v.Value) == 1 && v.Value[0] == allValue)
	if r.Format == "" && sqlRule {
		if !isArray {
			return sqlRuleOne(values[0], v), nil
		}
		quoted := make([]string, len(values))
		for i, s := range values {
			quoted[i] = quoteLiteral(s)
		}
		return strings.Join(quoted, ","), nil
	}
	return formatValue(values, isArray, r.Format, match)
}

// sqlRuleOne is the SQL datasource's rule for one string value.
func sqlRuleOne(s string, v *variable) string {
	if v != nil && (v.Multi || v.IncludeAll) {
		return quoteLiteral(s)
	}
	return strings.ReplaceAll(s, "'", "''")
}

// quoteLiteral is the PostgreSQL datasource's literal: in single quotes, quotes doubled.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// formatValue applies one of Grafana's variable formats.
func formatValue(values []string, isArray bool, format, match string) (string, error) {
	if format == "" {
		format = "glob"
	}
	each := func(f func(string) string, sep string) string {
		parts := make([]string, len(values))
		for i, s := range values {
			parts[i] = f(s)
		}
		return strings.Join(parts, sep)
	}
	same := func(s string) string { return s }
	switch format {
	case "raw", "text", "csv":
		return each(same, ","), nil
	case "pipe":
		return each(same, "|"), nil
	case "glob":
		if isArray {
			return "{" + each(same, ",") + "}", nil
		}
		return values[0], nil
	case "sqlstring":
		// quotes doubled; newer versions also put a backslash before double quotes
		return each(func(s string) string {
			return "'" + strings.NewReplacer("'", "''", `"`, `\"`).Replace(s) + "'"
		}, ","), nil
	case "singlequote":
		return each(func(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }, ","), nil
	case "doublequote":
		return each(func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }, ","), nil
	case "json":
		var b []byte
		if isArray {
			b, _ = json.Marshal(values)
		} else {
			b, _ = json.Marshal(values[0])
		}
		return string(b), nil
	}
	return "", fmt.Errorf("%s: format %q is not supported here", match, format)
}

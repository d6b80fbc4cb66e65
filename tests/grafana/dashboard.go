// Grafana dashboard JSON: reading a dashboard's queries (every panel target's SQL and every query
// variable's SQL) and checking its structure against what Grafana needs and what cprof's
// dashboards promise: required keys and types, unique panel ids, panels inside the 24-column
// grid without overlapping, raw SQL targets on the provisioned datasource, and SQL that is safe
// to interpolate: every $reference is a template variable, a Grafana built-in or a backend
// macro; a variable with an "All" option (custom all value NULL) is written bare, any other
// inside single quotes, so that Grafana's quoting keeps every value a literal; no multi-value
// variables, no comments (Grafana versions treat them differently), no E-strings or dollar quoting.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// dsType is the plugin id of Grafana's built-in PostgreSQL datasource (Grafana 10.2.3 on).
const dsType = "grafana-postgresql-datasource"

type object = map[string]interface{}

// query is one SQL query of a dashboard.
type query struct {
	Kind     string // panel or variable
	ID       string // the panel id or the variable's name
	Type     string // the panel type, or "variable"
	Title    string // the panel title or the variable's name
	RefID    string
	Format   string // table or time_series
	SQL      string
	Interval string // the panel's minimum interval ("" when none)
}

// dashboard is a parsed dashboard file.
type dashboard struct {
	File string
	Root object
	UID  string
}

func loadDashboard(file string) (*dashboard, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root interface{}
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("%s: not JSON: %v", file, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: text after the JSON value", file)
	}
	obj, ok := root.(object)
	if !ok {
		return nil, fmt.Errorf("%s: not a JSON object", file)
	}
	uid, _ := obj["uid"].(string)
	return &dashboard{File: file, Root: obj, UID: uid}, nil
}

// variables lists the dashboard's template variables, in order.
func (d *dashboard) variables() []object {
	var out []object
	if t, ok := d.Root["templating"].(object); ok {
		if list, ok := t["list"].([]interface{}); ok {
			for _, v := range list {
				if o, ok := v.(object); ok {
					out = append(out, o)
				}
			}
		}
	}
	return out
}

// panels lists every panel, those inside rows included, in order.
func (d *dashboard) panels() []object {
	var out []object
	var walk func(list interface{})
	walk = func(list interface{}) {
		l, _ := list.([]interface{})
		for _, p := range l {
			if o, ok := p.(object); ok {
				out = append(out, o)
				walk(o["panels"])
			}
		}
	}
	walk(d.Root["panels"])
	return out
}

// variableQuery is the SQL of a query variable: a string, or an object with rawSql or query.
func variableQuery(v object) string {
	switch q := v["query"].(type) {
	case string:
		return q
	case object:
		if s, ok := q["rawSql"].(string); ok {
			return s
		}
		if s, ok := q["query"].(string); ok {
			return s
		}
	}
	return ""
}

// queries lists every query variable's SQL, then every panel target's.
func (d *dashboard) queries() []query {
	var out []query
	for _, v := range d.variables() {
		if v["type"] != "query" {
			continue
		}
		name, _ := v["name"].(string)
		out = append(out, query{Kind: "variable", ID: name, Type: "variable", Title: name, RefID: name,
			Format: "table", SQL: variableQuery(v)})
	}
	for _, p := range d.panels() {
		targets, _ := p["targets"].([]interface{})
		for _, t := range targets {
			to, _ := t.(object)
			q := query{Kind: "panel", ID: jsonText(p["id"])}
			q.Type, _ = p["type"].(string)
			q.Title, _ = p["title"].(string)
			q.Interval, _ = p["interval"].(string)
			q.RefID, _ = to["refId"].(string)
			q.Format, _ = to["format"].(string)
			if q.Format == "" {
				q.Format = "time_series" // Grafana's default
			}
			q.SQL, _ = to["rawSql"].(string)
			out = append(out, q)
		}
	}
	return out
}

func jsonText(v interface{}) string {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case string:
		return x
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// integer reads a JSON integer.
func integer(v interface{}) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

var (
	uidPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)
	namePattern = regexp.MustCompile(`^\w+$`)
	panelTypes  = map[string]bool{"table": true, "timeseries": true, "stat": true, "flamegraph": true,
		"barchart": true, "bargauge": true, "gauge": true, "piechart": true, "text": true, "row": true}
	variableTypes = map[string]bool{"query": true, "custom": true, "textbox": true, "constant": true,
		"interval": true}
	// the built-in variables a query may use: the panel's interval, the range's ends in ms
	panelBuiltins    = map[string]bool{"__interval": true, "__interval_ms": true, "__from": true, "__to": true}
	variableBuiltins = map[string]bool{"__from": true, "__to": true}
)

// validator collects the problems of one dashboard.
type validator struct {
	file     string
	dsUID    string
	problems []string
}

func (v *validator) bad(format string, args ...interface{}) {
	v.problems = append(v.problems, v.file+": "+fmt.Sprintf(format, args...))
}

// validate checks a dashboard; dsUID is the provisioned datasource's uid.
func validate(d *dashboard, dsUID string) []string {
	v := &validator{file: d.File, dsUID: dsUID}
	r := d.Root
	if s, ok := r["uid"].(string); !ok || !uidPattern.MatchString(s) {
		v.bad("uid: want 1 to 40 letters, digits, - or _, got %s", jsonText(r["uid"]))
	}
	if s, ok := r["title"].(string); !ok || strings.TrimSpace(s) == "" {
		v.bad("title: want a non-empty string")
	}
	if n, ok := integer(r["schemaVersion"]); !ok || n < 36 {
		v.bad("schemaVersion: want an integer >= 36 (Grafana 10), got %s", jsonText(r["schemaVersion"]))
	}
	if _, ok := integer(r["version"]); !ok {
		v.bad("version: want an integer")
	}
	if id, ok := r["id"]; ok && id != nil {
		v.bad("id: a provisioned dashboard has id null (Grafana assigns it)")
	}
	if t, ok := r["time"].(object); !ok {
		v.bad("time: want an object with from and to")
	} else {
		for _, k := range []string{"from", "to"} {
			if s, ok := t[k].(string); !ok || s == "" {
				v.bad("time.%s: want a non-empty string", k)
			}
		}
	}
	if tags, ok := r["tags"]; ok {
		l, ok := tags.([]interface{})
		for _, t := range l {
			if _, s := t.(string); !s {
				ok = false
			}
		}
		if !ok {
			v.bad("tags: want an array of strings")
		}
	}
	if t, ok := r["templating"].(object); !ok {
		v.bad("templating: want an object with a list")
	} else if _, ok := t["list"].([]interface{}); !ok {
		v.bad("templating.list: want an array")
	}
	if l, ok := r["panels"].([]interface{}); !ok || len(l) == 0 {
		v.bad("panels: want a non-empty array")
	}

	vars := map[string]object{}
	for i, tv := range d.variables() {
		v.checkVariable(i, tv, vars)
	}
	v.checkPanels(d)
	v.checkOverlaps(d)

	used := map[string]bool{}
	for _, q := range d.queries() {
		where := fmt.Sprintf("panel %s (%s) %s", q.ID, q.Title, q.RefID)
		builtins := panelBuiltins
		if q.Kind == "variable" {
			where = "variable " + q.ID
			builtins = variableBuiltins
		}
		for _, name := range v.checkSQL(where, q.SQL, vars, builtins) {
			used[name] = true
			if q.Kind == "variable" && name == q.ID {
				v.bad("%s: refers to itself", where)
			}
		}
	}
	for name := range vars {
		if !used[name] {
			v.bad("variable %s: no query uses it", name)
		}
	}
	return v.problems
}

func (v *validator) checkDatasource(where string, ds interface{}) {
	o, ok := ds.(object)
	if !ok {
		v.bad("%s: datasource: want {\"type\": %q, \"uid\": %q}", where, dsType, v.dsUID)
		return
	}
	if o["type"] != dsType || o["uid"] != v.dsUID {
		v.bad("%s: datasource is %s/%s, want %s/%s", where, jsonText(o["type"]), jsonText(o["uid"]), dsType, v.dsUID)
	}
}

func (v *validator) checkVariable(i int, tv object, vars map[string]object) {
	name, _ := tv["name"].(string)
	where := fmt.Sprintf("variable %d (%s)", i, name)
	if !namePattern.MatchString(name) || strings.HasPrefix(name, "__") {
		v.bad("%s: name: want letters, digits and _, not starting with __", where)
	} else if vars[name] != nil {
		v.bad("%s: a second variable of this name", where)
	} else {
		vars[name] = tv
	}
	typ, _ := tv["type"].(string)
	if !variableTypes[typ] {
		v.bad("%s: type %s is not one of query, custom, textbox, constant, interval", where, jsonText(tv["type"]))
	}
	if m, _ := tv["multi"].(bool); m {
		v.bad("%s: multi-value: every argument of cprof's SQL functions is one value", where)
	}
	if all, _ := tv["includeAll"].(bool); all {
		if tv["allValue"] != "NULL" {
			v.bad("%s: includeAll wants allValue \"NULL\" (All means any)", where)
		}
	} else if av, ok := tv["allValue"].(string); ok && av != "" {
		v.bad("%s: allValue without includeAll", where)
	}
	if c, ok := tv["current"]; ok {
		if _, ok := c.(object); !ok {
			v.bad("%s: current: want an object", where)
		}
	}
	if typ == "query" {
		v.checkDatasource(where, tv["datasource"])
		if strings.TrimSpace(variableQuery(tv)) == "" {
			v.bad("%s: no query", where)
		}
		if r, ok := integer(tv["refresh"]); !ok || (r != 1 && r != 2) {
			v.bad("%s: refresh: want 1 (on load) or 2 (on time range change)", where)
		}
	}
}

// checkPanels checks the panels: ids, grid, types, datasource and targets.
func (v *validator) checkPanels(d *dashboard) {
	ids := map[int64]bool{}
	for _, p := range d.panels() {
		title, _ := p["title"].(string)
		id, ok := integer(p["id"])
		where := fmt.Sprintf("panel %s (%s)", jsonText(p["id"]), title)
		switch {
		case !ok || id <= 0:
			v.bad("%s: id: want a positive integer", where)
		case ids[id]:
			v.bad("%s: a second panel with id %d", where, id)
		default:
			ids[id] = true
		}
		if strings.TrimSpace(title) == "" {
			v.bad("%s: title: want a non-empty string", where)
		}
		typ, _ := p["type"].(string)
		if !panelTypes[typ] {
			v.bad("%s: type %s is not a panel type these dashboards use", where, jsonText(p["type"]))
		}
		if _, err := gridBox(p); err != nil {
			v.bad("%s: %v", where, err)
		}
		for _, k := range []string{"fieldConfig", "options"} {
			if x, ok := p[k]; ok {
				if _, ok := x.(object); !ok {
					v.bad("%s: %s: want an object", where, k)
				}
			}
		}
		if typ == "row" || typ == "text" {
			continue
		}
		v.checkDatasource(where, p["datasource"])
		targets, ok := p["targets"].([]interface{})
		if !ok || len(targets) == 0 {
			v.bad("%s: targets: want a non-empty array", where)
			continue
		}
		if typ == "flamegraph" && len(targets) != 1 {
			v.bad("%s: a flame graph reads one query", where)
		}
		refs := map[string]bool{}
		for i, t := range targets {
			to, ok := t.(object)
			tw := fmt.Sprintf("%s target %d", where, i)
			if !ok {
				v.bad("%s: want an object", tw)
				continue
			}
			ref, _ := to["refId"].(string)
			if ref == "" || refs[ref] {
				v.bad("%s: refId: want a name unique in the panel", tw)
			}
			refs[ref] = true
			if to["rawQuery"] != true || to["editorMode"] != "code" {
				v.bad("%s: want rawQuery true and editorMode \"code\" (raw SQL)", tw)
			}
			format, _ := to["format"].(string)
			switch {
			case format != "table" && format != "time_series":
				v.bad("%s: format: want table or time_series", tw)
			case typ == "timeseries" && format != "time_series":
				v.bad("%s: a time series panel wants format time_series", tw)
			case typ != "timeseries" && format == "time_series":
				v.bad("%s: format time_series is for time series panels", tw)
			}
			if s, _ := to["rawSql"].(string); strings.TrimSpace(s) == "" {
				v.bad("%s: rawSql: want the SQL", tw)
			}
			if ds, ok := to["datasource"]; ok {
				v.checkDatasource(tw, ds)
			}
		}
	}
}

// box is a panel's place on the grid.
type box struct{ x, y, w, h int64 }

// gridBox reads a panel's gridPos: integers h, w, x, y inside the 24-column grid.
func gridBox(p object) (box, error) {
	var b box
	g, ok := p["gridPos"].(object)
	if !ok {
		return b, fmt.Errorf("gridPos: want an object with h, w, x, y")
	}
	vals := []*int64{&b.h, &b.w, &b.x, &b.y}
	for i, k := range []string{"h", "w", "x", "y"} {
		n, ok := integer(g[k])
		if !ok {
			return b, fmt.Errorf("gridPos.%s: want an integer", k)
		}
		*vals[i] = n
	}
	if b.h < 1 || b.w < 1 || b.x < 0 || b.y < 0 || b.x+b.w > 24 {
		return b, fmt.Errorf("gridPos x=%d w=%d h=%d y=%d is outside the 24-column grid", b.x, b.w, b.h, b.y)
	}
	return b, nil
}

// checkOverlaps reports the top-level panels that overlap one before them.
func (v *validator) checkOverlaps(d *dashboard) {
	var placed []box
	l, _ := d.Root["panels"].([]interface{})
	for _, x := range l {
		p, _ := x.(object)
		b, err := gridBox(p)
		if err != nil {
			continue
		}
		for _, o := range placed {
			if b.x < o.x+o.w && o.x < b.x+b.w && b.y < o.y+o.h && o.y < b.y+b.h {
				title, _ := p["title"].(string)
				v.bad("panel %s (%s): overlaps another panel", jsonText(p["id"]), title)
				break
			}
		}
		placed = append(placed, b)
	}
}

// sqlLiterals marks the bytes of sql inside single-quoted literals (the quotes included) and
// reports comments, E-strings (E followed by a quoted string) and unterminated quotes.
func sqlLiterals(sql string) ([]bool, error) {
	in := make([]bool, len(sql))
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '\'':
			if i > 0 && (sql[i-1] == 'E' || sql[i-1] == 'e') && (i < 2 || !isWord(sql[i-2])) {
				return nil, fmt.Errorf("an E'' string (backslash escapes would let a value end it)")
			}
			j := i + 1
			for ; j < len(sql); j++ {
				if sql[j] == '\'' {
					if j+1 < len(sql) && sql[j+1] == '\'' {
						j++
						continue
					}
					break
				}
			}
			if j >= len(sql) {
				return nil, fmt.Errorf("an unterminated string literal")
			}
			for k := i; k <= j; k++ {
				in[k] = true
			}
			i = j
		case c == '"':
			j := strings.IndexByte(sql[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("an unterminated quoted identifier")
			}
			i += j + 1
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-', c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			return nil, fmt.Errorf("a comment (Grafana versions treat comments differently: describe the panel instead)")
		}
	}
	return in, nil
}

func isWord(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// checkSQL checks one query's SQL and returns the variables it uses.
func (v *validator) checkSQL(where, sql string, vars map[string]object, builtins map[string]bool) []string {
	if strings.TrimSpace(sql) == "" {
		return nil
	}
	in, err := sqlLiterals(sql)
	if err != nil {
		v.bad("%s: %v", where, err)
		return nil
	}
	var used []string
	covered := make([]bool, len(sql))
	for _, r := range findReferences(sql) {
		for k := r.Start; k < r.End; k++ {
			covered[k] = true
		}
		text := sql[r.Start:r.End]
		tv := vars[r.Name]
		switch {
		case tv != nil:
			used = append(used, r.Name)
			if r.Format != "" || r.FieldPath != "" || strings.HasPrefix(text, "[[") {
				v.bad("%s: %s: write $%s or ${%s} (Grafana's SQL quoting), no format", where, text, r.Name, r.Name)
			}
			all, _ := tv["includeAll"].(bool)
			if all && in[r.Start] {
				v.bad("%s: %s has an All option (NULL): write it bare, Grafana quotes its values", where, text)
			}
			if !all && !in[r.Start] {
				v.bad("%s: %s has no All option: write it inside single quotes ('%s')", where, text, text)
			}
		case macroNames[r.Name] && !strings.HasPrefix(text, "${") && !strings.HasPrefix(text, "[["):
			if r.End >= len(sql) || sql[r.End] != '(' {
				v.bad("%s: macro %s without its (arguments)", where, text)
			}
			for k := r.End; k < len(sql) && sql[k] != ')'; k++ {
				covered[k] = true
			}
		case builtins[r.Name]:
		case strings.HasPrefix(r.Name, "__"):
			v.bad("%s: %s is not a built-in variable or macro available here", where, text)
		default:
			v.bad("%s: %s is not a variable of this dashboard", where, text)
		}
	}
	for k := 0; k < len(sql); k++ {
		if sql[k] == '$' && !covered[k] {
			v.bad("%s: a $ that is not a variable or macro (no dollar quoting)", where)
			break
		}
	}
	return used
}

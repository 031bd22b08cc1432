package conf

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// ParseTOML reads a configuration in TOML form; name is the file name used
// in errors. It holds the same parameters with the same meaning as the
// fastdpi.conf form:
//
//	in_dev = "41-00.0"               # or ["41-00.0", "42-00.0"]
//	out_dev = "41-00.1"
//	router = true                    # or 1
//	router_netns = "bird"
//	router_kernel_table = 1
//
//	[[router_device]]
//	device = "41-00.1"
//	subnet = ["10.0.2.0/30", "224.0.0.5/32"]
//
//	[[lag]]
//	device = ["01-00.1", "02-00.1"]
//
// Numbers are TOML integers, booleans TOML booleans (or 0 and 1), text TOML
// strings; list parameters take an array or a single value; in_dev, out_dev
// and router_tap_pcap take an array of names as well as their usual
// string. The same checks apply, and errors carry the line of the key.
func ParseTOML(name string, src []byte) (*Config, error) {
	b := newBuilder(name)
	var root map[string]any
	if _, err := toml.Decode(string(src), &root); err != nil {
		e := &Error{File: name, Line: 1, Msg: err.Error(), Err: err}
		if pe, ok := errors.AsType[toml.ParseError](err); ok {
			e.Msg = "TOML: " + pe.Message
			e.Param = pe.LastKey
			if pe.Position.Line > 0 {
				e.Line = pe.Position.Line
			}
		}
		return nil, errors.Join(e)
	}
	lines := tomlLines(string(src))
	for _, key := range byLine(root, "", lines) {
		line := lineOf(lines, 1, key)
		if !isSection(key) {
			b.setTOML(key, root[key], line)
			continue
		}
		tables, isArray := tomlTables(root[key])
		if tables == nil {
			b.errorf(line, key, "must be a table: [[%s]]", key)
			continue
		}
		for i, t := range tables {
			prefix := key // [router_device]: keys are router_device.device
			if isArray {
				prefix = fmt.Sprintf("%s[%d]", key, i) // [[router_device]]
			}
			hl := lineOf(lines, line, prefix)
			b.open(key, hl)
			for _, k := range byLine(t, prefix+".", lines) {
				b.setTOML(k, t[k], lineOf(lines, hl, prefix+"."+k))
			}
			b.close()
		}
	}
	return b.finish()
}

// tomlTables returns the tables of a section: an array of tables, or a
// single table. isArray tells which; nil if v is neither.
func tomlTables(v any) (tables []map[string]any, isArray bool) {
	switch v := v.(type) {
	case map[string]any:
		return []map[string]any{v}, false
	case []map[string]any:
		return v, true
	case []any: // an inline array of inline tables
		tables = []map[string]any{}
		for _, e := range v {
			t, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			tables = append(tables, t)
		}
		return tables, true
	}
	return nil, false
}

// setTOML applies key = v, converting the TOML value to the text the
// parameter's parser takes.
func (b *builder) setTOML(key string, v any, line int) {
	sp, ok := b.spec(key)
	if !ok {
		b.set(key, "", line) // reports or ignores the unknown key
		return
	}
	vals, err := tomlText(v, sp)
	if err != nil {
		b.errorf(line, key, "%v", err)
		return
	}
	for _, s := range vals {
		b.set(key, s, line)
	}
}

// tomlText converts a TOML value to the value(s) in file form that a
// parameter of spec sp takes.
func tomlText(v any, sp spec) ([]string, error) {
	if arr, ok := v.([]any); ok {
		if !sp.list && sp.join == "" {
			return nil, errors.New("takes a single value, not an array")
		}
		var out []string
		for _, e := range arr {
			if _, nested := e.([]any); nested {
				return nil, errors.New("arrays cannot be nested here")
			}
			s, err := tomlScalar(e, sp.kind)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		if !sp.list {
			return []string{strings.Join(out, sp.join)}, nil
		}
		return out, nil
	}
	s, err := tomlScalar(v, sp.kind)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// tomlScalar converts one TOML value for a parameter of kind k.
func tomlScalar(v any, k valueKind) (string, error) {
	switch v := v.(type) {
	case string:
		if k == kindInt {
			return "", fmt.Errorf("expected an integer, got the string %q", v)
		}
		return v, nil
	case int64:
		switch k {
		case kindString:
			return "", fmt.Errorf("expected a string, got the integer %d (quote it)", v)
		case kindBool:
			if v != 0 && v != 1 {
				return "", fmt.Errorf("expected a boolean (true, false, 1 or 0), got %d", v)
			}
		}
		return strconv.FormatInt(v, 10), nil
	case bool:
		if k != kindBool {
			return "", fmt.Errorf("expected %s, got the boolean %t", kindName(k), v)
		}
		if v {
			return "1", nil
		}
		return "0", nil
	case float64:
		if k == kindInt {
			return "", fmt.Errorf("expected an integer, got the float %v", v)
		}
		return "", fmt.Errorf("expected %s, got the float %v", kindName(k), v)
	case map[string]any:
		return "", fmt.Errorf("expected %s, got a table", kindName(k))
	case time.Time: // all four TOML date-times decode to it
		return "", fmt.Errorf("expected %s, got a date or time", kindName(k))
	}
	return "", fmt.Errorf("expected %s, got %T", kindName(k), v)
}

func kindName(k valueKind) string {
	switch k {
	case kindInt:
		return "an integer"
	case kindBool:
		return "a boolean"
	}
	return "a string"
}

// byLine returns the keys of t in the order of their lines in the source
// (keys whose line is unknown last, by name).
func byLine(t map[string]any, prefix string, lines map[string]int) []string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		la, lb := lineOf(lines, math.MaxInt, prefix+a), lineOf(lines, math.MaxInt, prefix+b)
		if la != lb {
			if la < lb {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	return keys
}

// lineOf returns the line of path, or of the nearest enclosing path the
// scan found ("a[0].b" -> "a[0]" -> "a"), or def.
func lineOf(lines map[string]int, def int, path string) int {
	for {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return def
		}
		path = path[:i]
	}
}

// tomlLines scans a TOML document, already known to be valid, for the line
// of each key and table header. BurntSushi/toml knows the positions but
// does not export them. Paths are "key" at top level, "table.key" in a
// [table], "table[i]" for the i-th [[table]] and "table[i].key" in it;
// dotted keys keep their dots. The scan understands enough of TOML to skip
// values: strings of the four kinds, arrays and inline tables over several
// lines, comments.
func tomlLines(src string) map[string]int {
	lines := map[string]int{}
	counts := map[string]int{} // [[table]] -> occurrences so far
	table := ""                // path of the current table, "" at top level
	line := 1
	for i := 0; i < len(src); {
		switch c := src[i]; {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			i = skipLine(src, i)
		case c == '[':
			array := strings.HasPrefix(src[i:], "[[")
			if array {
				i++
			}
			name, j := scanKey(src, i+1)
			if array {
				table = fmt.Sprintf("%s[%d]", name, counts[name])
				counts[name]++
			} else {
				table = name
			}
			if _, seen := lines[table]; !seen {
				lines[table] = line
			}
			i = skipLine(src, j)
		default:
			key, j := scanKey(src, i)
			if table != "" {
				key = table + "." + key
			}
			if _, seen := lines[key]; !seen {
				lines[key] = line
			}
			if j <= i { // not a key after all: avoid looping
				j = i + 1
			}
			i, line = skipValue(src, j, line)
		}
	}
	return lines
}

// skipLine returns the index of the newline ending the line at i.
func skipLine(src string, i int) int {
	if n := strings.IndexByte(src[i:], '\n'); n >= 0 {
		return i + n
	}
	return len(src)
}

// scanKey reads a possibly dotted, possibly quoted key starting at i, up to
// '=' or ']', and returns it with its parts joined by '.', and the index
// after the '=' or ']'.
func scanKey(src string, i int) (string, int) {
	var parts []string
	var cur strings.Builder
	for i < len(src) {
		switch c := src[i]; {
		case c == '=' || c == ']' || c == '\n':
			if c != '\n' {
				i++
			}
			return strings.Join(append(parts, cur.String()), "."), i
		case c == '.':
			parts = append(parts, cur.String())
			cur.Reset()
			i++
		case c == ' ' || c == '\t':
			i++
		case c == '"' || c == '\'':
			end := i + 1
			for end < len(src) && src[end] != c && src[end] != '\n' {
				if c == '"' && src[end] == '\\' {
					end++
				}
				end++
			}
			raw := src[i+1 : min(end, len(src))]
			if s, err := strconv.Unquote(`"` + raw + `"`); c == '"' && err == nil {
				raw = s // TOML's escapes are a subset of Go's
			}
			cur.WriteString(raw)
			i = end + 1
		default:
			cur.WriteByte(c)
			i++
		}
	}
	return strings.Join(append(parts, cur.String()), "."), i
}

// skipValue skips the value starting at i and returns the index of the
// newline that ends it, and the line number there.
func skipValue(src string, i, line int) (int, int) {
	depth := 0 // of [ and {
	for i < len(src) {
		c := src[i]
		switch {
		case strings.HasPrefix(src[i:], `"""`) || strings.HasPrefix(src[i:], "'''"):
			i, line = skipMultiline(src, i, line)
			continue
		case c == '"' || c == '\'':
			i++
			for i < len(src) && src[i] != c && src[i] != '\n' {
				if c == '"' && src[i] == '\\' {
					i++
				}
				i++
			}
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		case c == '#':
			i = skipLine(src, i)
			continue
		case c == '\n':
			if depth <= 0 {
				return i, line
			}
			line++
		}
		i++
	}
	return i, line
}

// skipMultiline skips a multi-line string (in triple quotes) starting at i.
func skipMultiline(src string, i, line int) (int, int) {
	delim := src[i : i+3]
	i += 3
	for i < len(src) {
		switch {
		case delim == `"""` && src[i] == '\\':
			if i+1 < len(src) && src[i+1] == '\n' {
				line++
			}
			i += 2
			continue
		case strings.HasPrefix(src[i:], delim):
			i += 3
			for n := 0; n < 2 && i < len(src) && src[i] == delim[0]; n++ { // """a"""" ends in a quote
				i++
			}
			return i, line
		case src[i] == '\n':
			line++
		}
		i++
	}
	return i, line
}

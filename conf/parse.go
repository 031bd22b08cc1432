package conf

import (
	"errors"
	"io/fs"
	"os"
	"regexp"
	"strings"
)

// Load reads the configuration file at path: TOML if its name ends in
// ".toml", fastdpi.conf form otherwise. On error it returns every problem
// found, as *Error values joined with errors.Join, and no Config.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		msg := err.Error()
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			msg = pe.Op + ": " + pe.Err.Error()
		}
		return nil, errors.Join(&Error{File: path, Msg: msg, Err: err})
	}
	if strings.HasSuffix(path, ".toml") {
		return ParseTOML(path, src)
	}
	return Parse(path, src)
}

// Parse reads a configuration in fastdpi.conf form; name is the file name
// used in errors.
//
// The syntax is fastdpi's: one key=value per line, blanks around '=' and
// around the line ignored; '#' starts a comment line, and a '#' after a
// blank ends the value; double quotes around a value are removed (then '#'
// inside them is kept). Sections are written
//
//	router_device {
//	    device=41-00.1
//	}
//
// with '{' on the line of the section name and '}' alone on its line. A
// repeated list parameter (subnet, subnet6, a lag's device, fibd_vdev,
// fibd_eal_args) adds to the list; for the others the last one wins. Keys
// fibd does not know are collected in Config.Ignored, unless they start
// with router_ or fibd_, which are errors.
//
// On error Parse returns every problem found, as *Error values joined with
// errors.Join, and no Config.
func Parse(name string, src []byte) (*Config, error) {
	p := lineParser{b: newBuilder(name)}
	text := strings.TrimPrefix(string(src), "\uFEFF")
	for i, line := range strings.Split(text, "\n") {
		p.line(i+1, strings.TrimSuffix(line, "\r"))
	}
	return p.b.finish()
}

// lineParser feeds the lines of a fastdpi.conf to a builder.
type lineParser struct {
	b *builder
	// A section name alone on its line, an error, is remembered here so
	// that a '{' alone on the next line opens it without a second error.
	pending     string
	pendingLine int
}

var (
	keyRe    = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	openerRe = regexp.MustCompile(`^([A-Za-z0-9_.-]+)\s*\{(.*)$`)
)

// isBlankOrComment reports whether the rest of a line says nothing.
func isBlankOrComment(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || s[0] == '#'
}

// line handles line n, whose text is s.
func (p *lineParser) line(n int, s string) {
	b := p.b
	s = strings.TrimSpace(s)
	if s == "" || s[0] == '#' {
		return
	}
	pending, pendingLine := p.pending, p.pendingLine
	p.pending = ""

	switch {
	case s[0] == '{':
		if pending == "" {
			b.errorf(n, "", "'{' without a section name; write the name on the same line: router_device {")
			return
		}
		b.open(pending, pendingLine) // the error was reported on the name's line
		if !isBlankOrComment(s[1:]) {
			b.errorf(n, pending, "nothing may follow '{' on its line")
		}
		return

	case s[0] == '}':
		if b.sec == nil {
			b.errorf(n, "", "'}' without an open section")
			return
		}
		if !isBlankOrComment(s[1:]) {
			b.errorf(n, b.sec.name, "'}' must be alone on its line")
		}
		b.close()
		return
	}

	if m := openerRe.FindStringSubmatch(s); m != nil {
		if b.sec != nil {
			b.errorf(n, m[1], "sections cannot be nested: %s opened at line %d is not closed", b.sec.name, b.sec.line)
			b.close()
		}
		b.open(m[1], n)
		if !isBlankOrComment(m[2]) {
			b.errorf(n, m[1], "nothing may follow '{' on its line: write one parameter per line and '}' alone on the last")
		}
		return
	}

	key, raw, ok := strings.Cut(s, "=")
	key = strings.TrimSpace(key)
	if !ok {
		if keyRe.MatchString(s) {
			// Probably a section whose '{' went to the next line.
			p.pending, p.pendingLine = s, n
			if isSection(s) {
				b.errorf(n, s, "'{' must be on the same line as the section name: %s {", s)
			} else {
				b.errorf(n, s, "expected key=value")
			}
			return
		}
		b.errorf(n, "", "expected key=value")
		return
	}
	if !keyRe.MatchString(key) {
		b.errorf(n, "", "%q is not a parameter name", key)
		return
	}
	val, quoted, err := parseValue(raw)
	if err != nil {
		b.errorf(n, key, "%v", err)
		return
	}
	if b.sec != nil && !quoted && strings.HasSuffix(val, "}") {
		// "device=x }": apply the value, close the section, but say so.
		b.errorf(n, key, "'}' must be alone on its line")
		b.set(key, strings.TrimSpace(strings.TrimSuffix(val, "}")), n)
		b.close()
		return
	}
	b.set(key, val, n)
}

// parseValue extracts the value from what follows '=': blanks around it, a
// trailing comment (a '#' after a blank) and double quotes around it go.
func parseValue(raw string) (val string, quoted bool, err error) {
	v := strings.TrimSpace(raw)
	if strings.HasPrefix(v, `"`) {
		end := strings.IndexByte(v[1:], '"')
		if end < 0 {
			return "", false, errors.New("unterminated quote")
		}
		if !isBlankOrComment(v[end+2:]) {
			return "", false, errors.New("unexpected text after the closing quote")
		}
		return v[1 : end+1], true, nil
	}
	for i := 1; i < len(raw); i++ {
		if raw[i] == '#' && (raw[i-1] == ' ' || raw[i-1] == '\t') {
			raw = raw[:i]
			break
		}
	}
	return strings.TrimSpace(raw), false, nil
}

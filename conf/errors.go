package conf

import (
	"errors"
	"fmt"
)

// Error is one problem found in a configuration. Load, Parse and ParseTOML
// report every problem they find, as *Error values joined with errors.Join;
// errors.As finds the first, Errors lists them all.
type Error struct {
	File  string // the file, as named to Load, Parse or ParseTOML
	Line  int    // from 1; 0 when the problem is the file as a whole (unreadable)
	Param string // the parameter or section at fault; "" for a line that is no parameter at all
	Msg   string
	Err   error // underlying error (I/O, TOML syntax) or nil
}

// Error formats the problem as "file:line: param: msg", leaving out the line
// and the parameter when they are not known.
func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	if e.Param != "" {
		s += ": " + e.Param
	}
	return s + ": " + e.Msg
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Errors returns the *Error values in err, which is what Load, Parse or
// ParseTOML returned, in the order they were joined (by line).
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if e, ok := err.(*Error); ok {
			out = append(out, e)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var e *Error
		if errors.As(err, &e) {
			out = append(out, e)
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

package conf

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// addSeeds adds the testdata files matching pattern to the corpus.
func addSeeds(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
}

// checkErr fails unless err is made of *Error values only, each with a
// line.
func checkErr(t *testing.T, err error) {
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			if len(j.Unwrap()) == 0 {
				t.Error("empty joined error")
			}
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("%T is not *Error: %v", err, err)
		}
		if e.Line < 1 || e.Msg == "" {
			t.Errorf("error without line or message: %#v", e)
		}
	}
	walk(err)
}

// FuzzParse: Parse never panics, reports only *Error values, and what it
// accepts survives Marshal and Parse again.
func FuzzParse(f *testing.F) {
	addSeeds(f, "*.conf")
	f.Add([]byte(base + "router_device {\ndevice=41-00.1 }\n"))
	f.Add([]byte("lag {\n}\n}\n{\nrouter_device\n{\n\"\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := Parse("fuzz.conf", src)
		if err != nil {
			if c != nil {
				t.Error("config returned with an error")
			}
			checkErr(t, err)
			return
		}
		out := c.Marshal()
		c2, err := Parse("marshal.conf", out)
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v\n%s", err, out)
		}
		a, b := normalized(c), normalized(c2)
		a.Ignored, b.Ignored = nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip differs:\n%+v\n%+v\n%s", a, b, out)
		}
	})
}

// FuzzParseTOML: ParseTOML never panics and reports only *Error values.
func FuzzParseTOML(f *testing.F) {
	addSeeds(f, "*.toml")
	f.Add([]byte(tomlBase + "[[router_device]]\ndevice = \"41-00.1\"\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := ParseTOML("fuzz.toml", src)
		if err != nil {
			if c != nil {
				t.Error("config returned with an error")
			}
			checkErr(t, err)
		}
	})
}

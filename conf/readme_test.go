package conf

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeNamesEveryParameter: README has a row for every parameter fibd
// takes, with its class, so that no parameter's effect goes undocumented:
// the manual's in the table of the manual's parameters, fibd's own in the
// table of fibd's parameters. A parameter added without a row fails here.
func TestReadmeNamesEveryParameter(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	manual := tableAfter(t, readme, "The manual's parameters, and what fibd does with each")
	own := tableAfter(t, readme, "fibd's own parameters:")
	for _, p := range Params() {
		if p.Name == "lag" || p.Name == "router_device" {
			continue // the sections: their keys have rows
		}
		row, where := manual, "the manual's parameters"
		if strings.HasPrefix(p.Name, "fibd_") || p.Section == "lag" && p.Name == "mode" {
			row, where = own, "fibd's own parameters"
		}
		line := rowNaming(row, p)
		if line == "" {
			t.Errorf("%s: no row in README's table of %s", p.Name, where)
			continue
		}
		if where != "the manual's parameters" {
			continue
		}
		class := "cold"
		if p.Hot {
			class = "hot"
		}
		if cols := strings.Split(line, "|"); len(cols) < 4 || strings.TrimSpace(cols[2]) != class {
			t.Errorf("%s is %s, README's row says otherwise: %s", p.Name, class, line)
		}
	}
}

// tableAfter returns the Markdown table that follows the line starting
// with title.
func tableAfter(t *testing.T, readme, title string) string {
	t.Helper()
	i := strings.Index(readme, "\n"+title)
	if i < 0 {
		t.Fatalf("README has no %q", title)
	}
	var rows []string
	started := false
	for _, l := range strings.Split(readme[i+1:], "\n")[1:] {
		if strings.HasPrefix(l, "|") {
			started = true
			rows = append(rows, l)
		} else if started {
			break
		}
	}
	return strings.Join(rows, "\n")
}

// rowNaming returns the row whose first column names p in backquotes
// (a section key after its section's name), or "".
func rowNaming(table string, p Param) string {
	for _, l := range strings.Split(table, "\n") {
		cols := strings.Split(l, "|")
		if len(cols) < 3 {
			continue
		}
		first := cols[1]
		if p.Section != "" && !strings.Contains(first, "`"+p.Section+"`") {
			continue
		}
		if strings.Contains(first, "`"+p.Name+"`") {
			return l
		}
	}
	return ""
}

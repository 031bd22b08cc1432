package conf

import (
	"fmt"
	"strings"
	"time"
)

// Advice is a remark on a valid configuration: something the manual
// advises against, or what fibd skipped.
type Advice struct {
	Warn bool // a warning; otherwise information
	Text string
}

// minFIBRefresh is the manual's advice for router_fib_refresh: below it the
// router does its periodic work more often than any use needs.
const minFIBRefresh = 5 * time.Second

// Advice returns the remarks on c, for the log at start and reload and for
// fibd --check.
func (c *Config) Advice() []Advice {
	var out []Advice
	if c.RouterFIBRefresh < minFIBRefresh {
		out = append(out, Advice{Warn: true, Text: fmt.Sprintf(
			"router_fib_refresh=%d: the manual advises at least %d s (each refresh compares the whole RIB with the FIB)",
			int(c.RouterFIBRefresh/time.Second), int(minFIBRefresh/time.Second))})
	}
	if len(c.Ignored) > 0 {
		keys := make([]string, len(c.Ignored))
		for i, ig := range c.Ignored {
			keys[i] = fmt.Sprintf("%s (line %d)", ig.Key, ig.Line)
		}
		out = append(out, Advice{Text: "not router parameters, ignored by fibd: " + strings.Join(keys, ", ")})
	}
	return out
}

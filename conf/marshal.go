package conf

import (
	"bytes"
	"slices"
	"strings"
)

// Marshal writes c in fastdpi.conf form: every top-level parameter that has
// a value (defaults included, derived values made explicit), then the
// router_device and lag sections. Parse gives c back from it, except for
// File, the Line fields and Ignored.
func (c *Config) Marshal() []byte {
	var buf bytes.Buffer
	writeParams(&buf, topParams, c, "")
	for i := range c.RouterDevices {
		buf.WriteString("router_device {\n")
		writeParams(&buf, routerDeviceParams, &c.RouterDevices[i], "\t")
		buf.WriteString("}\n")
	}
	for i := range c.Lags {
		buf.WriteString("lag {\n")
		writeParams(&buf, lagParams, &c.Lags[i], "\t")
		buf.WriteString("}\n")
	}
	return buf.Bytes()
}

func writeParams[T any](buf *bytes.Buffer, table []param[T], t *T, indent string) {
	for _, p := range table {
		for _, v := range p.text(t) {
			buf.WriteString(indent + p.Name + "=" + quoteValue(v) + "\n")
		}
	}
}

// quoteValue quotes v if Parse would not read it back as it is.
func quoteValue(v string) string {
	if v != strings.TrimSpace(v) || strings.HasSuffix(v, "}") ||
		strings.Contains(v, " #") || strings.Contains(v, "\t#") {
		return `"` + v + `"`
	}
	return v
}

// Changed compares c with old, the configuration in force, and returns the
// names of the parameters whose value differs: hot ones, which a reload
// applies, and cold ones, which need a restart. A difference anywhere in
// the router_device (lag) sections is reported as the cold parameter
// "router_device" ("lag"). Ignored keys are not compared.
func (c *Config) Changed(old *Config) (hot, cold []string) {
	for _, p := range topParams {
		if slices.Equal(p.text(c), p.text(old)) {
			continue
		}
		if p.Hot {
			hot = append(hot, p.Name)
		} else {
			cold = append(cold, p.Name)
		}
	}
	if !slices.EqualFunc(c.RouterDevices, old.RouterDevices, func(a, b RouterDevice) bool {
		return sameParams(routerDeviceParams, &a, &b)
	}) {
		cold = append(cold, "router_device")
	}
	if !slices.EqualFunc(c.Lags, old.Lags, func(a, b Lag) bool {
		return sameParams(lagParams, &a, &b)
	}) {
		cold = append(cold, "lag")
	}
	return hot, cold
}

// sameParams reports whether a and b have the same value for every
// parameter of table.
func sameParams[T any](table []param[T], a, b *T) bool {
	for _, p := range table {
		if !slices.Equal(p.text(a), p.text(b)) {
			return false
		}
	}
	return true
}

// Value returns the value(s) of the top-level parameter key as Marshal
// writes them (defaults included), one per occurrence; ok is false when
// fibd has no such top-level parameter.
func (c *Config) Value(key string) (values []string, ok bool) {
	p := lookup(topParams, key)
	if p == nil {
		return nil, false
	}
	return p.text(c), true
}

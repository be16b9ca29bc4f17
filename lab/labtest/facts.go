package labtest

import (
	"strings"
)

// Facts are the probe's key=value lines. A key may repeat (one line per
// mount, per interface ...), so each key holds all its values in order.
type Facts map[string][]string

// ParseFacts reads key=value lines; other lines are ignored.
func ParseFacts(out string) Facts {
	f := Facts{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		f[k] = append(f[k], v)
	}
	return f
}

// Get is the last value of key, or "" when the probe did not print it.
func (f Facts) Get(key string) string {
	vs := f[key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// Has reports whether the probe printed key at all.
func (f Facts) Has(key string) bool { return len(f[key]) > 0 }

// All is every value of key, in the order printed.
func (f Facts) All(key string) []string { return f[key] }

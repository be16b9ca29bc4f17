package security

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// CheckCapabilities is process.capabilities as Validate sees it, before
// anything exists: every name is a capability, and the sets are ones the
// kernel would take. Each problem is "JSON path: what is wrong", in
// internal/spec's form. The kernel's own rules (capset(2),
// PR_CAP_AMBIENT_RAISE in prctl(2)), refused here instead of by the init
// after start:
//
//   - effective ⊆ permitted: a capability cannot be in force without
//     being permitted;
//   - inheritable ⊆ bounding: nothing outside the bounding set can be
//     passed on;
//   - ambient ⊆ permitted ∩ inheritable.
func CheckCapabilities(c *specs.LinuxCapabilities) []string {
	if c == nil {
		return nil
	}
	var problems []string
	parse := func(field string, names []string) Set {
		var s Set
		for i, name := range names {
			n, err := ParseCapability(name)
			if err != nil {
				problems = append(problems, fmt.Sprintf("process.capabilities.%s[%d]: %v", field, i, err))
				continue
			}
			s |= 1 << n
		}
		return s
	}
	bnd := parse("bounding", c.Bounding)
	eff := parse("effective", c.Effective)
	inh := parse("inheritable", c.Inheritable)
	prm := parse("permitted", c.Permitted)
	amb := parse("ambient", c.Ambient)
	if extra := eff &^ prm; extra != 0 {
		problems = append(problems, fmt.Sprintf("process.capabilities.effective: %s not in permitted: capset(2) refuses an effective capability that is not permitted; add it to permitted or remove it", extra))
	}
	if extra := inh &^ bnd; extra != 0 {
		problems = append(problems, fmt.Sprintf("process.capabilities.inheritable: %s not in bounding: capset(2) refuses an inheritable capability outside the bounding set; add it to bounding or remove it", extra))
	}
	if extra := amb &^ (prm & inh); extra != 0 {
		problems = append(problems, fmt.Sprintf("process.capabilities.ambient: %s not both permitted and inheritable: prctl(2) PR_CAP_AMBIENT_RAISE refuses it; add it to both or remove it", extra))
	}
	return problems
}

package initproc

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"boxlab/stage06-full/internal/security"
)

// readCaps turns process.capabilities into the sets to apply, for the
// kernel we run on. create warned about the names this kernel does not
// know; they are skipped here.
func (cfg *Config) readCaps() error {
	last, err := security.LastCap()
	if err != nil {
		return fmt.Errorf("capabilities: %w", err)
	}
	caps, _, err := security.FromSpec(cfg.Spec.Process.Capabilities, last)
	if err != nil {
		return fmt.Errorf("process.capabilities: %w", err)
	}
	cfg.caps, cfg.lastCap = caps, last
	return nil
}

// becomeUser becomes process.user with exactly process.capabilities, in
// runc's order (see internal/security/capabilities.go for why): the
// bounding set dropped while still root, the permitted set kept across
// setuid, then the sets applied as the user. All on the init's one
// thread, the one that calls execve.
func becomeUser(cfg *Config, u specs.User) error {
	caps := cfg.caps
	if caps != nil {
		explain(fmt.Sprintf("prctl(PR_CAPBSET_DROP) each capability not in the bounding set, setuid with PR_SET_KEEPCAPS, capset(effective=%s, permitted=%s, inheritable=%s), PR_CAP_AMBIENT_RAISE %s",
			caps.Effective.Hex(), caps.Permitted.Hex(), caps.Inheritable.Hex(), caps.Ambient),
			fmt.Sprintf("setpriv --bounding-set=-all,%s --inh-caps=-all,%s --ambient-caps=-all,%s --reuid=%d --regid=%d",
				setprivList(caps.Bounding), setprivList(caps.Inheritable), setprivList(caps.Ambient), u.UID, u.GID))
	}
	if err := caps.DropBounding(cfg.lastCap); err != nil {
		return err
	}
	if err := security.KeepCaps(true); err != nil {
		return err
	}
	if err := setUser(u); err != nil {
		return err
	}
	if err := security.KeepCaps(false); err != nil {
		return err
	}
	return caps.Apply()
}

// setprivList is a set as setpriv(1) takes it: "+chown,+kill".
func setprivList(s security.Set) string {
	var out []string
	for _, name := range strings.Split(s.String(), ",") {
		if name != "" {
			out = append(out, "+"+strings.ToLower(strings.TrimPrefix(name, "CAP_")))
		}
	}
	return strings.Join(out, ",")
}

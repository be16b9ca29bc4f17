package vm

// Kernel modules: which .ko files the guest must load, and in what order.
// The answer comes from modules.dep (modules.dep(5)): one line per module,
// "kernel/net/netfilter/nft_masq.ko: kernel/net/netfilter/nf_nat.ko ...",
// paths relative to /lib/modules/RELEASE. Debian's kernel package does not
// ship modules.dep (its postinst runs depmod), so GenerateModulesDep makes
// one from what depmod itself reads: the "depends=" field that the kernel's
// build (modpost) writes into each module's .modinfo section. The same
// section gives modules.alias and modules.softdep: a module such as
// libcrc32c needs "crc32c" loaded first (softdep pre:), which is an alias of
// crc32c_generic; on a host modprobe follows that, the guest has no
// modprobe, so Resolve does.

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// GuestModules are the modules the stages need that Debian builds as
// modules rather than into the kernel. Dependencies are added by Resolve.
var GuestModules = []string{
	"overlay",       // stage04: overlayfs
	"bridge",        // stage05: the bridge the containers plug into
	"veth",          // stage05: one veth pair per container
	"nf_tables",     // stage05: nftables, through netlink
	"nft_chain_nat", // stage05: "type nat" chains
	"nft_nat",       // stage05: dnat for published ports
	"nft_masq",      // stage05: masquerade for outgoing traffic
	"nft_ct",        // stage05: ct state matches
	"nft_fib",       // stage05: "fib daddr type local" for published ports
	"nft_fib_ipv4",
	"nf_nat",
	"nf_conntrack",
}

// ModuleName is the name of a module file the way modprobe compares them:
// the base name without .ko (and any compression suffix), dashes as
// underscores.
func ModuleName(file string) string {
	b := path.Base(file)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		b = strings.TrimSuffix(b, ext)
	}
	b = strings.TrimSuffix(b, ".ko")
	return strings.ReplaceAll(b, "-", "_")
}

// ModDeps maps a module name to its file and the files it depends on, as
// read from modules.dep.
type ModDeps map[string]ModEntry

// ModEntry is one line of modules.dep.
type ModEntry struct {
	Path string   // relative to /lib/modules/RELEASE
	Deps []string // the same, as listed
}

// ParseModulesDep reads modules.dep.
func ParseModulesDep(r io.Reader) (ModDeps, error) {
	deps := ModDeps{}
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		file, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(file) == "" {
			return nil, fmt.Errorf("modules.dep line %d: no \"module:\" in %q", n, line)
		}
		file = strings.TrimSpace(file)
		deps[ModuleName(file)] = ModEntry{Path: file, Deps: strings.Fields(rest)}
	}
	return deps, s.Err()
}

// ParseBuiltin reads modules.builtin: the modules compiled into the kernel,
// one path per line. It returns their names.
func ParseBuiltin(r io.Reader) (map[string]bool, error) {
	in := map[string]bool{}
	s := bufio.NewScanner(r)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); line != "" {
			in[ModuleName(line)] = true
		}
	}
	return in, s.Err()
}

// ModIndex is what resolving needs: modules.dep, modules.builtin, and,
// for soft dependencies, modules.softdep and modules.alias.
type ModIndex struct {
	Deps    ModDeps
	Builtin map[string]bool     // module names
	SoftPre map[string][]string // module name -> "pre:" soft dependencies (names or aliases)
	Aliases map[string][]string // alias -> module names
}

// Resolve returns the files to load for the wanted modules, dependencies
// first, each once, and the wanted modules that are built in (nothing to
// load). A module's "pre:" soft dependencies are loaded before it when they
// can be found (they are soft: one that cannot is left out); an alias with
// several modules picks one (see pickAlias). A wanted module that is
// neither in modules.dep nor built in is an error, as is a dependency cycle
// (modules.dep never has one; a broken file might).
func (ix ModIndex) Resolve(wanted []string) (load []string, inKernel []string, err error) {
	byPath := map[string]string{}
	for name, e := range ix.Deps {
		byPath[e.Path] = name
	}
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, name), " -> "))
		}
		e, ok := ix.Deps[name]
		if !ok {
			return fmt.Errorf("module %s: not in modules.dep", name)
		}
		state[name] = visiting
		var next []string
		for _, soft := range ix.SoftPre[name] {
			if m := ix.pickAlias(soft); m != "" && !ix.Builtin[m] {
				next = append(next, m)
			}
		}
		for _, d := range e.Deps {
			dn, ok := byPath[d]
			if !ok {
				dn = ModuleName(d)
			}
			if !ix.Builtin[dn] {
				next = append(next, dn)
			}
		}
		for _, n := range next {
			if err := visit(n, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = done
		load = append(load, e.Path)
		return nil
	}
	var missing []string
	for _, w := range wanted {
		name := ModuleName(w)
		if _, ok := ix.Deps[name]; !ok {
			if ix.Builtin[name] {
				inKernel = append(inKernel, name)
			} else {
				missing = append(missing, name)
			}
			continue
		}
		if err := visit(name, nil); err != nil {
			return nil, nil, err
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("kernel modules not found (neither in modules.dep nor built in): %s",
			strings.Join(missing, ", "))
	}
	return load, inKernel, nil
}

// pickAlias resolves a soft dependency: a module name, or an alias. Of
// several modules with the alias it prefers the portable one ("crc32c" is
// both crc32c_generic and crc32c_intel, which needs SSE 4.2): a *_generic
// module, else the first by name. "" when nothing matches.
func (ix ModIndex) pickAlias(name string) string {
	name = strings.ReplaceAll(name, "-", "_")
	if _, ok := ix.Deps[name]; ok || ix.Builtin[name] {
		return name
	}
	mods := append([]string(nil), ix.Aliases[name]...)
	if len(mods) == 0 {
		mods = append(mods, ix.Aliases[strings.ReplaceAll(name, "_", "-")]...)
	}
	if len(mods) == 0 {
		return ""
	}
	sort.Strings(mods)
	for _, m := range mods {
		if strings.HasSuffix(m, "_generic") {
			return m
		}
	}
	return mods[0]
}

// ModInfo is what GenerateModulesDep needs of one module file.
type ModInfo struct {
	Path    string   // relative to /lib/modules/RELEASE
	Name    string   // from .modinfo "name=", else from the file name
	Depends []string // from .modinfo "depends=": module names
	Aliases []string // from .modinfo "alias=" lines
	Softdep string   // from .modinfo "softdep=": "pre: a b post: c"
}

// ReadModInfo reads the .modinfo section of a module (an ELF relocatable
// object): NUL-separated key=value strings.
func ReadModInfo(relPath string, data []byte) (ModInfo, error) {
	mi := ModInfo{Path: relPath, Name: ModuleName(relPath)}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return mi, fmt.Errorf("%s: %w", relPath, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return mi, fmt.Errorf("%s: no .modinfo section", relPath)
	}
	raw, err := sec.Data()
	if err != nil {
		return mi, fmt.Errorf("%s: .modinfo: %w", relPath, err)
	}
	for _, kv := range bytes.Split(raw, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok {
			continue
		}
		switch k {
		case "name":
			mi.Name = strings.ReplaceAll(v, "-", "_")
		case "alias":
			mi.Aliases = append(mi.Aliases, v)
		case "softdep":
			mi.Softdep = strings.TrimSpace(strings.Join([]string{mi.Softdep, v}, " "))
		case "depends":
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					mi.Depends = append(mi.Depends, strings.ReplaceAll(d, "-", "_"))
				}
			}
		}
	}
	return mi, nil
}

// GenerateModulesDep writes modules.dep for mods the way depmod does: every
// module, followed by all of its dependencies, direct and indirect, in the
// order modprobe loads them from the end of the list back to the start.
// Modules are sorted by path so that the file is the same on every run.
func GenerateModulesDep(w io.Writer, mods []ModInfo) error {
	direct := ModDeps{}
	pathOf := map[string]string{}
	for _, m := range mods {
		pathOf[m.Name] = m.Path
	}
	for _, m := range mods {
		e := ModEntry{Path: m.Path}
		for _, d := range m.Depends {
			p, ok := pathOf[d]
			if !ok {
				return fmt.Errorf("%s depends on %s, which is not in the package", m.Path, d)
			}
			e.Deps = append(e.Deps, p)
		}
		direct[m.Name] = e
	}
	sorted := append([]ModInfo(nil), mods...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	bw := bufio.NewWriter(w)
	for _, m := range sorted {
		order, _, err := ModIndex{Deps: direct}.Resolve([]string{m.Name})
		if err != nil {
			return err
		}
		order = order[:len(order)-1] // the module itself comes last
		fmt.Fprintf(bw, "%s:", m.Path)
		for i := len(order) - 1; i >= 0; i-- {
			fmt.Fprintf(bw, " %s", order[i])
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

// GenerateModulesAlias writes modules.alias for mods, as depmod does:
// "alias ALIAS MODULE" lines.
func GenerateModulesAlias(w io.Writer, mods []ModInfo) error {
	bw := bufio.NewWriter(w)
	for _, m := range sortedByName(mods) {
		for _, a := range m.Aliases {
			fmt.Fprintf(bw, "alias %s %s\n", a, m.Name)
		}
	}
	return bw.Flush()
}

// GenerateModulesSoftdep writes modules.softdep for mods, as depmod does:
// "softdep MODULE pre: A B post: C" lines.
func GenerateModulesSoftdep(w io.Writer, mods []ModInfo) error {
	bw := bufio.NewWriter(w)
	for _, m := range sortedByName(mods) {
		if m.Softdep != "" {
			fmt.Fprintf(bw, "softdep %s %s\n", m.Name, m.Softdep)
		}
	}
	return bw.Flush()
}

func sortedByName(mods []ModInfo) []ModInfo {
	s := append([]ModInfo(nil), mods...)
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	return s
}

// ParseModulesAlias reads modules.alias into alias -> module names (dashes
// as underscores in both, as modprobe compares them). Wildcard aliases
// (pci:v*d*...) are kept as they are: only exact names are looked up.
func ParseModulesAlias(r io.Reader) (map[string][]string, error) {
	out := map[string][]string{}
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) == 3 && f[0] == "alias" {
			a := strings.ReplaceAll(f[1], "-", "_")
			out[a] = append(out[a], strings.ReplaceAll(f[2], "-", "_"))
		}
	}
	return out, s.Err()
}

// ParseModulesSoftdep reads modules.softdep (or the softdep lines of a
// modprobe.d file) into module -> its "pre:" soft dependencies.
func ParseModulesSoftdep(r io.Reader) (map[string][]string, error) {
	out := map[string][]string{}
	s := bufio.NewScanner(r)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 3 || f[0] != "softdep" {
			continue
		}
		mod := strings.ReplaceAll(f[1], "-", "_")
		pre := false
		for _, w := range f[2:] {
			switch w {
			case "pre:":
				pre = true
			case "post:":
				pre = false
			default:
				if pre {
					out[mod] = append(out[mod], w)
				}
			}
		}
	}
	return out, s.Err()
}

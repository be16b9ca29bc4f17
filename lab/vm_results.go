package main

// From the VM's results channel to the scoreboard: each module's test2json
// events go through the same testStream `lab test` uses, so a test counts,
// prints and fails the same way on the host and in the VM.

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"boxlab/lab/internal/vm"
)

// vmCollector is the vm.Sink of a VM run.
type vmCollector struct {
	mu      sync.Mutex
	out     io.Writer
	verbose bool
	now     func() time.Time
	label   string // the layout, for the modules' headings: "cgroup v2 VM"

	order   []string                 // module names, as planned
	results map[string]*moduleResult // by module name

	cur      *vmModuleRun
	begun    map[string]bool // modules the guest started
	header   []string
	fatal    []string
	stray    []string // lines outside any module
	booted   time.Time
	finished time.Time
	done     bool
}

// vmModuleRun is the module whose tests are running in the guest.
type vmModuleRun struct {
	name   string
	res    *moduleResult
	stream *testStream
	exits  map[string]int    // exit status by package
	final  map[string]string // the package's own last action from test2json: pass, fail
	start  time.Time
}

func newVMCollector(out io.Writer, verbose bool, planned []module) *vmCollector {
	c := &vmCollector{out: out, verbose: verbose, now: time.Now, label: "cgroup v2 VM",
		results: map[string]*moduleResult{}, begun: map[string]bool{}}
	for _, m := range planned {
		c.order = append(c.order, m.Name)
		c.results[m.Name] = &moduleResult{Module: m.Name}
	}
	return c
}

func (c *vmCollector) Header(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.booted.IsZero() {
		c.booted = c.now()
	}
	c.header = append(c.header, text)
	fmt.Fprintf(c.out, "  vm| %s\n", text)
}

func (c *vmCollector) Fatal(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fatal = append(c.fatal, text)
	fmt.Fprintf(c.out, "  vm| FATAL: %s\n", text)
}

func (c *vmCollector) Begin(name, path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.booted.IsZero() {
		c.booted = c.now()
	}
	c.endLocked("") // a begin without the previous end: close that one
	res, ok := c.results[name]
	if !ok {
		res = &moduleResult{Module: name}
		c.results[name] = res
		c.order = append(c.order, name)
	}
	c.begun[name] = true
	fmt.Fprintf(c.out, "== %s: test (%s)\n", name, c.label)
	c.cur = &vmModuleRun{name: name, res: res, exits: map[string]int{}, final: map[string]string{}, start: c.now(),
		stream: newTestStream(c.out, path, c.verbose, res)}
}

func (c *vmCollector) Package(string) {}

func (c *vmCollector) Output(line []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		c.stray = append(c.stray, string(line))
		fmt.Fprintf(c.out, "  vm| %s\n", line)
		return
	}
	c.cur.stream.feed(line)
	var e testEvent
	if len(line) > 0 && line[0] == '{' && json.Unmarshal(line, &e) == nil && e.Test == "" &&
		(e.Action == "pass" || e.Action == "fail" || e.Action == "skip") {
		c.cur.final[e.Package] = e.Action
	}
}

func (c *vmCollector) Exit(pkg string, code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		c.cur.exits[pkg] = code
	}
}

func (c *vmCollector) End(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil && c.cur.name == name {
		c.endLocked("")
	}
}

func (c *vmCollector) Done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLocked("")
	c.done = true
	c.finished = c.now()
}

// endLocked closes the running module. reason, when not empty, says why
// it ends early (the VM stopped); that counts as one more failure.
func (c *vmCollector) endLocked(reason string) {
	r := c.cur
	if r == nil {
		return
	}
	c.cur = nil
	r.stream.finish(nil, nil)
	if reason != "" {
		r.res.Failed++
		r.res.Failures = append(r.res.Failures, outcome{Name: "VM stopped during " + r.name, Output: []string{reason}})
		fmt.Fprintf(c.out, "  FAIL %s: %s\n", r.name, reason)
	}
	// A test binary that exited non-zero without test2json reporting the
	// package failed (test2json could not start it, say) still fails;
	// when it did report it, the stream has counted it already.
	for _, pkg := range sortedKeys(r.exits) {
		if code := r.exits[pkg]; code != 0 && r.final[pkg] != "fail" {
			name := fmt.Sprintf("%s [exit status %d in the VM]", pkg, code)
			r.res.Failed++
			r.res.Failures = append(r.res.Failures, outcome{Name: name})
			fmt.Fprintf(c.out, "  FAIL %s\n", name)
		}
	}
	r.res.Seconds += seconds(c.now().Sub(r.start))
}

// finish returns the results of every module in order once the VM is
// gone. reason says why the VM stopped when it did not report done; then
// the running module fails, and the modules that never started count one
// failure each.
func (c *vmCollector) finish(reason string) []moduleResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.done {
		if reason == "" {
			reason = "the VM stopped without reporting the end of the tests"
		}
		if len(c.fatal) > 0 {
			reason += ": " + strings.Join(c.fatal, "; ")
		}
		c.endLocked(reason)
		for _, name := range c.order {
			if c.begun[name] {
				continue
			}
			res := c.results[name]
			res.Failed++
			res.Failures = append(res.Failures, outcome{Name: "not run in the VM", Output: []string{reason}})
		}
	}
	var out []moduleResult
	for _, name := range c.order {
		out = append(out, *c.results[name])
	}
	return out
}

// headerLines are the guest's header lines that start with prefix, with
// the prefix cut off.
func (c *vmCollector) headerLines(prefix string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, h := range c.header {
		if rest, ok := strings.CutPrefix(h, prefix); ok {
			out = append(out, rest)
		}
	}
	return out
}

// checkCgroupMounts checks the cgroup mounts the guest reported against
// the plan for mode, computed here from the /proc/cgroups it reported. A
// guest that reported neither (it died first) has failed already.
func (c *vmCollector) checkCgroupMounts(mode vm.CgroupMode) error {
	procCgroups := c.headerLines("/proc/cgroups: ")
	if len(procCgroups) == 0 {
		return nil
	}
	plan := vm.CgroupMounts(mode, strings.Join(procCgroups, "\n"))
	return vm.CheckCgroupMounts(plan, strings.Join(c.headerLines("mount: "), "\n"))
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var _ vm.Sink = (*vmCollector)(nil)

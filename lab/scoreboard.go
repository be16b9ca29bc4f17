package main

// The scoreboard: what `lab test` prints at the end, the closing line CI
// reads, and the JSON form that lets results from elsewhere (a VM) be merged
// into the same table.

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// An outcome is one failed or skipped item: a test, a package that did not
// build, a vet or build step.
type outcome struct {
	Name   string   `json:"name"`             // "TestRun/hostname", "labtest.TestX", "go vet ./...", "boxlab/lab/probe [build failed]"
	Reason string   `json:"reason,omitempty"` // skips: the t.Skip message
	Output []string `json:"output,omitempty"` // failures: the last lines of output
}

// moduleResult is the score of one module of the workspace.
//
// Counting: every test, subtest and benchmark that reaches a final result
// counts once, so a test with two passing subtests counts 3 passed. Besides
// tests, one failure is counted for a failed `go build`, a failed `go vet`,
// a package that failed without any failing test (it did not compile, or
// TestMain exited), and a `go test` that failed without reporting anything.
// Seconds is the wall-clock time of all steps of the module.
type moduleResult struct {
	Module   string    `json:"module"`
	Passed   int       `json:"passed"`
	Failed   int       `json:"failed"`
	Skipped  int       `json:"skipped"`
	Seconds  float64   `json:"seconds"`
	Failures []outcome `json:"failures,omitempty"`
	Skips    []outcome `json:"skips,omitempty"`
}

// sumResults adds up results into one row named "total".
func sumResults(results []moduleResult) moduleResult {
	t := moduleResult{Module: "total"}
	for _, r := range results {
		t.Passed += r.Passed
		t.Failed += r.Failed
		t.Skipped += r.Skipped
		t.Seconds += r.Seconds
	}
	return t
}

// closingLine is the last line `lab test` prints; CI's judge reads it.
func closingLine(results []moduleResult) string {
	t := sumResults(results)
	return fmt.Sprintf("%d passed, %d failed, %d skipped", t.Passed, t.Failed, t.Skipped)
}

// printScoreboard prints the title line, one aligned row per module, the
// total row and the closing line. title names where the tests ran ("host:
// cgroup v1 hybrid", "cgroup v2 (VM)"); empty prints a bare "scoreboard".
func printScoreboard(w io.Writer, title string, results []moduleResult) {
	width := 19
	for _, r := range results {
		width = max(width, len(r.Module)+1)
	}
	if title != "" {
		fmt.Fprintf(w, "scoreboard (%s)\n", title)
	} else {
		fmt.Fprintln(w, "scoreboard")
	}
	row := func(name, passed, failed, skipped, time string) {
		fmt.Fprintf(w, "%-*s%6s%8s%9s%8s\n", width, name, passed, failed, skipped, time)
	}
	row("stage", "passed", "failed", "skipped", "time")
	for _, r := range results {
		row(r.Module, fmt.Sprint(r.Passed), fmt.Sprint(r.Failed), fmt.Sprint(r.Skipped), fmt.Sprintf("%.1fs", r.Seconds))
	}
	t := sumResults(results)
	row(t.Module, fmt.Sprint(t.Passed), fmt.Sprint(t.Failed), fmt.Sprint(t.Skipped), fmt.Sprintf("%.1fs", t.Seconds))
	fmt.Fprintln(w, closingLine(results))
}

// report prints the end of a `lab test` run: a recap of failures, the
// skips (as failures under strict), the scoreboard and the closing line.
// It returns the exit status: 1 when anything failed, or when strict and
// anything was skipped; else 0.
func report(w io.Writer, title string, results []moduleResult, strict bool) int {
	t := sumResults(results)
	fmt.Fprintln(w)
	if t.Failed > 0 {
		fmt.Fprintln(w, "failed:")
		for _, r := range results {
			for _, f := range r.Failures {
				fmt.Fprintf(w, "  %s: %s\n", r.Module, f.Name)
			}
		}
		fmt.Fprintln(w)
	}
	if t.Skipped > 0 {
		if strict {
			fmt.Fprintln(w, "strict mode: skips count as failures")
			for _, r := range results {
				for _, s := range r.Skips {
					fmt.Fprintf(w, "  %s: %s: %s\n", r.Module, s.Name, s.Reason)
				}
			}
		} else {
			noun := "tests"
			if t.Skipped == 1 {
				noun = "test"
			}
			fmt.Fprintf(w, "%d %s skipped (see reasons above); run as root with all kernel features for the full lab, see 'lab doctor'\n", t.Skipped, noun)
		}
		fmt.Fprintln(w)
	}
	printScoreboard(w, title, results)
	if t.Failed > 0 || (strict && t.Skipped > 0) {
		return 1
	}
	return 0
}

// hostTitle names this host's cgroup layout for the scoreboard title.
func hostTitle() string {
	l, err := detectCgroupLayout(cgroupRoot, realStatfsMagic)
	if err != nil {
		return "host: cgroup unknown"
	}
	switch l {
	case layoutV2:
		return "host: cgroup v2"
	case layoutHybrid:
		return "host: cgroup v1 hybrid"
	case layoutV1:
		return "host: cgroup v1"
	}
	return "host: cgroup " + l.String()
}

// resultsFile is the JSON form of a run, written by `lab test --json FILE`.
type resultsFile struct {
	Title   string         `json:"title"`
	Modules []moduleResult `json:"modules"`
}

func writeResultsJSON(path, title string, results []moduleResult) error {
	if results == nil {
		results = []moduleResult{}
	}
	data, err := json.MarshalIndent(resultsFile{Title: title, Modules: results}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func readResultsJSON(path string) (resultsFile, error) {
	var f resultsFile
	data, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

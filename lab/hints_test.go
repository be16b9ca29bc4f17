package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The sections a hint names: only quoted titles followed by a README, with
// the README each one is in; man page and kernel documentation sections
// are not README sections.
func TestHintSectionRefs(t *testing.T) {
	for _, c := range []struct {
		hint string
		want []hintSectionRef
	}{
		{`See chroot(2), chdir(2) and "The idea" in README.md.`, []hintSectionRef{{"The idea", "README.md"}}},
		{`See cpuset(7) and the "v1, v2 and hybrid" table in ../stage03-cgroups/README.md.`,
			[]hintSectionRef{{"v1, v2 and hybrid", "../stage03-cgroups/README.md"}}},
		{`See cgroup-v2.rst ("Enabling and Disabling", "No Internal Process Constraint") and "Two v2 rules" in ../stage03-cgroups/README.md.`,
			[]hintSectionRef{{"Two v2 rules", "../stage03-cgroups/README.md"}}},
		{`See "Volumes" and "Commit" in ../stage04-overlayfs/README.md, and "Try it", "The idea" or "Concepts" in README.md.`,
			[]hintSectionRef{{"Volumes", "../stage04-overlayfs/README.md"}, {"Commit", "../stage04-overlayfs/README.md"},
				{"Try it", "README.md"}, {"The idea", "README.md"}, {"Concepts", "README.md"}}},
		{`See nft(8) ("CHAINS", "masquerade").`, nil},
	} {
		got, err := hintSectionRefs(c.hint)
		require.NoError(t, err, c.hint)
		assert.Equal(t, c.want, got, c.hint)
	}
	_, err := hintSectionRefs(`See the table in README.md.`)
	assert.ErrorContains(t, err, "README.md is named without a quoted section title")
}

// A hint that names a section of its own README passes; one whose section
// only an earlier stage's README has fails and says which README has it;
// so does a README that is not there.
func TestCheckHintSections(t *testing.T) {
	root := t.TempDir()
	write := func(stage, md string) string {
		dir := filepath.Join(root, stage)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte(md), 0o644))
		return dir
	}
	write("stage03-c", "# c\n\n## Concepts\n\n### Pause and resume\n\n```console\n## Not a heading\n```\n")
	dir := write("stage04-o", "# o\n\n## Concepts\n\n### Volumes\n")
	hint := func(h string) []exercise { return []exercise{{Num: 11, Func: "wait", Hint: h}} }

	assert.NoError(t, checkHintSections(dir, hint(`See "Volumes" in README.md and "Concepts" in README.md.`)))
	assert.NoError(t, checkHintSections(dir, hint(`See poll(2) ("Notes") and "Pause and resume" in ../stage03-c/README.md.`)))

	err := checkHintSections(dir, hint(`See poll(2) and "Pause and resume" in README.md.`))
	assert.ErrorContains(t, err, `exercise 11 (wait): "Pause and resume" is not a ## or ### heading of README.md`)
	assert.ErrorContains(t, err, `../stage03-c/README.md has it`)
	assert.ErrorContains(t, checkHintSections(dir, hint(`See "Not a heading" in ../stage03-c/README.md.`)), "is not a ## or ### heading")
	assert.ErrorContains(t, checkHintSections(dir, hint(`See "Volumes" in ../stage09-x/README.md.`)), "no such file")
	assert.ErrorContains(t, checkHintSections(dir, hint(`See the README.md.`)), "without a quoted section title")
}

// Every hint of every stage names sections that exist, in the README it
// names: a hint carried into a later stage must not send the student to a
// section only the stage it starts in has, under the later stage's README.
func TestStageHintSections(t *testing.T) {
	stages, err := filepath.Glob("../stage0*")
	require.NoError(t, err)
	require.NotEmpty(t, stages)
	for _, dir := range stages {
		exs, err := parseExercises(dir)
		require.NoError(t, err, dir)
		assert.NoError(t, checkHintSections(dir, exs), dir)
	}
}

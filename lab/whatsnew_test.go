package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeNewStage(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for n, b := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644))
	}
}

const newReadmeHead = "# Stage\n\n## What's new\n\n"

func TestWhatsNewMatchesDiff(t *testing.T) {
	root := t.TempDir()
	prev, cur := filepath.Join(root, "stage01-a"), filepath.Join(root, "stage02-b")
	writeNewStage(t, prev, map[string]string{
		"README.md": newReadmeHead + "| file | what it holds |\n|---|---|\n| `main.go`, `old.go` | x |\n| `gone.go` | x |\n",
		"main.go":   "package main\n", "old.go": "old\n", "gone.go": "gone\n",
	})
	// The stage binary and a test binary are not the lesson.
	writeNewStage(t, prev, map[string]string{"stage01-a": "ELF", "x.test": "ELF"})
	assert.NoError(t, checkWhatsNew(prev, ""))

	table := "| file | status | what it holds |\n|---|---|---|\n" +
		"| `new.go` | added | x |\n" +
		"| `renamed.go` | changed (was `old.go`) | x |\n" +
		"| `gone.go` | **removed** | x |\n"
	files := map[string]string{"main.go": "package main\n", "new.go": "new\n", "renamed.go": "old, renamed\n"}
	writeNewStage(t, cur, files)
	writeNewStage(t, cur, map[string]string{"README.md": newReadmeHead + table + "| `main.go` | unchanged | |\n"})
	assert.NoError(t, checkWhatsNew(cur, prev))

	// main.go changes, the table still says unchanged.
	writeNewStage(t, cur, map[string]string{"main.go": "package main // edited\n"})
	err := checkWhatsNew(cur, prev)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "`main.go` is changed, the table says unchanged")

	// A file the table forgets, and one it invents.
	writeNewStage(t, cur, map[string]string{
		"README.md": newReadmeHead + table + "| `main.go` | changed | |\n| `ghost.go` | added | |\n",
		"go.sum":    "sum\n",
	})
	err = checkWhatsNew(cur, prev)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "`go.sum` (added) is not in the table")
	assert.Contains(t, err.Error(), "`ghost.go` is in neither stage")

	// "every other file" covers what is unchanged, and only that.
	writeNewStage(t, cur, map[string]string{
		"README.md": newReadmeHead + table + "| every other file | unchanged | `main.go` ... |\n",
		"main.go":   "package main\n",
	})
	require.NoError(t, os.Remove(filepath.Join(cur, "go.sum")))
	assert.NoError(t, checkWhatsNew(cur, prev))
	writeNewStage(t, cur, map[string]string{"main.go": "package main // edited\n"})
	err = checkWhatsNew(cur, prev)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "`main.go` (changed) is not in the table")

	// The first stage: every file must be listed.
	writeNewStage(t, prev, map[string]string{"go.mod": "module a\n"})
	err = checkWhatsNew(prev, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "`go.mod` (added) is not in the table")
}

func TestWhatsNewBadTables(t *testing.T) {
	for name, md := range map[string]string{
		"no section":  "# x\n\n## Concepts\n",
		"no table":    newReadmeHead + "words\n",
		"bad status":  newReadmeHead + "| file | status | x |\n|---|---|---|\n| `a.go` | tweaked | |\n",
		"no file":     newReadmeHead + "| file | status | x |\n|---|---|---|\n| a.go | added | |\n",
		"rest added":  newReadmeHead + "| file | status | x |\n|---|---|---|\n| every other file | added | |\n",
		"bad heading": newReadmeHead + "| name | status |\n|---|---|\n| `a.go` | added |\n",
	} {
		_, _, err := whatsNewRows([]byte(md))
		assert.Error(t, err, name)
	}
}

// The stages' own tables, against the stages as they are.
func TestStageWhatsNew(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	mods, err := workspaceModules(root)
	require.NoError(t, err)
	n := 0
	for _, m := range mods {
		if m.Name == "lab" {
			continue
		}
		n++
		assert.NoError(t, checkWhatsNew(m.Dir, previousStage(m, mods)), m.Name)
	}
	require.NotZero(t, n)
}

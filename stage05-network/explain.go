package main

import (
	"fmt"
	"os"
	"strings"
)

// explainOn is set by --explain in the parent and passed on to the child.
var explainOn bool

// explain narrates one kernel-level step and, when there is one, the shell
// command that does the same, so students can repeat it by hand.
func explain(step, shell string) {
	if !explainOn {
		return
	}
	fmt.Fprintf(os.Stderr, "[explain] %s\n", step)
	if shell != "" {
		fmt.Fprintf(os.Stderr, "[explain]   $ %s\n", shell)
	}
}

// shellJoin quotes words so the printed command can be pasted into a shell.
func shellJoin(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
			quoted[i] = w
			continue
		}
		quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}

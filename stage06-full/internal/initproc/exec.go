package initproc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// findCommand looks the user's command up in the container's PATH.
func findCommand(command []string) (string, int, error) {
	path, err := lookPath(command[0])
	if err != nil {
		return "", exitNotFound, fmt.Errorf("exec %s: not found in the container (is it in the image, and on PATH %s?)",
			command[0], os.Getenv("PATH"))
	}
	return path, 0, nil
}

// execCommand replaces this process with the user's command, found by
// findCommand: it only returns on failure, with docker's exit code.
func execCommand(path string, command []string) (int, error) {
	explain(fmt.Sprintf("execve(%q, %q): the runtime becomes the command", path, command),
		shellJoin(command))
	err := syscall.Exec(path, command, os.Environ())
	if errors.Is(err, syscall.ENOENT) {
		// The file is there but its interpreter or loader is not.
		return exitNotFound, fmt.Errorf("exec %s: %w (is its interpreter or dynamic loader in the image?)", path, err)
	}
	return exitNotExecutable, fmt.Errorf("exec %s: %w", path, err)
}

// lookPath finds the command as a shell would. A name with a slash is taken
// as it is; a file that exists but cannot be run is left to execve to report.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		if _, err := os.Stat(name); err != nil {
			return "", err
		}
		return name, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range strings.Split(os.Getenv("PATH"), ":") {
		if _, err := os.Stat(dir + "/" + name); err == nil {
			return dir + "/" + name, nil
		}
	}
	return "", fs.ErrNotExist
}

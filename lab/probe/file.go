package main

// File operations, for volumes, read-only roots and copy-on-write layers:
// what a container writes, where it lands and who owns it.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

func cmdFile(args []string) error {
	if len(args) < 2 {
		return usagef("needs an action and a PATH")
	}
	action, path, rest := args[0], args[1], args[2:]
	if action == "write" {
		if len(rest) != 1 {
			return usagef("write needs PATH CONTENT")
		}
		return fileWrite(path, rest[0])
	}
	if len(rest) != 0 {
		return usagef("%s takes only PATH", action)
	}
	switch action {
	case "read":
		return fileRead(path)
	case "stat":
		return fileStat(path)
	case "rm":
		return fileRemove(path)
	case "writable":
		return fileWritable(path)
	}
	return usagef("unknown file action %q", action)
}

// fileWrite writes CONTENT exactly, with no newline added.
func fileWrite(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return err
	}
	emit("written", len(content))
	return nil
}

// fileRead prints the content on one line: a trailing newline is dropped,
// inner newlines become ';' (see oneLine).
func fileRead(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	emit("content", string(data))
	return nil
}

// fileStat describes PATH itself (a symlink is not followed). A missing
// path is an answer, not a failure.
func fileStat(path string) error {
	var st unix.Stat_t
	err := unix.Lstat(path, &st)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		emit("exists", false)
		return nil
	}
	if err != nil {
		return &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	emit("exists", true)
	emit("type", fileType(st.Mode))
	emit("mode", fmt.Sprintf("%04o", st.Mode&0o7777))
	emit("uid", st.Uid)
	emit("gid", st.Gid)
	emit("ino", st.Ino)
	emit("dev", st.Dev)
	emit("size", st.Size)
	return nil
}

func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFCHR:
		return "char"
	case unix.S_IFBLK:
		return "block"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	}
	return "unknown"
}

func fileRemove(path string) error {
	if err := os.Remove(path); err != nil {
		return err
	}
	emit("removed", path)
	return nil
}

// fileWritable opens PATH for appending without changing it: a read-only
// mount answers EROFS, a volume mounted ro likewise, a missing file ENOENT.
// Either answer exits 0.
func fileWritable(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		emit("writable", false)
		emit("error", err)
		return nil
	}
	f.Close()
	emit("writable", true)
	return nil
}

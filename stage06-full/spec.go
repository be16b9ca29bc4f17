package main

// `spec`: write the default config.json, as `runc spec` does, for a
// student to edit. It refuses to overwrite one: the config in a bundle is
// usually someone's work.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"boxlab/stage06-full/internal/spec"
)

func specVerb(g *globals, args []string) error {
	fl := verbFlags("spec")
	bundle := fl.StringP("bundle", "b", ".", "the bundle `DIR` to write "+spec.ConfigName+" into")
	rootless := fl.Bool("rootless", false, "a config for a container started by a user other than root (not implemented yet)")
	if err := parseVerb(g, fl, args, `
The config is runc's default (process sh in ./rootfs, namespaces pid,
network, ipc, uts and mount, docker's mounts, masked and read-only /proc
paths), with terminal false. Edit it, put a root file system in rootfs/,
and the bundle is ready.`); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return usagef("spec", "spec takes no arguments, got %q: name the bundle with --bundle", fl.Args())
	}
	if *rootless {
		return errors.New("spec --rootless: rootless containers (a user namespace mapping the caller, no network namespace, no cgroup limits) are not implemented yet: run as root, or edit " + spec.ConfigName + " by hand")
	}
	data, err := json.MarshalIndent(spec.Default(), "", "\t")
	if err != nil {
		return err
	}
	name := filepath.Join(*bundle, spec.ConfigName)
	// O_EXCL: refused when the file exists, in the same system call that
	// creates it, so no other writer can slip in between a check and
	// the write. 0666 less the umask, as runc writes it.
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	switch {
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s exists: remove it first (spec never overwrites a config)", name)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("bundle %s does not exist: make the directory first", *bundle)
	case err != nil:
		return err
	}
	if _, err = f.Write(append(data, '\n')); err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", name, err)
	}
	g.log.Debug("wrote the default config", "file", name)
	return nil
}

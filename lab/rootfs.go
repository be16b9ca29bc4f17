package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"boxlab/lab/internal/labpaths"
	"boxlab/lab/internal/rootfs"
)

func init() {
	register(command{
		name:    "rootfs",
		summary: "build the test image (busybox + probe) into the cache",
		run:     runRootfs,
	})
}

func runRootfs(args []string) error {
	fs := pflag.NewFlagSet("rootfs", pflag.ContinueOnError)
	force := fs.Bool("force", false, "rebuild even if the image is up to date")
	cache := fs.String("cache", labpaths.CacheDir, "cache `DIR` to build into")
	printOnly := fs.Bool("print", false, "print only key=path lines")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, "usage: lab rootfs [--force] [--cache DIR] [--print]\n\n"+
			"Builds the test image from the host's busybox-static and the probe.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w (see 'lab rootfs --help')", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see 'lab rootfs --help')", fs.Arg(0))
	}
	// The shared cache belongs to root; check before touching anything.
	if filepath.Clean(*cache) == labpaths.CacheDir && os.Geteuid() != 0 {
		return errors.New("run as root: sudo ./lab.sh rootfs")
	}
	var log io.Writer = os.Stdout
	if *printOnly {
		log = io.Discard
	}
	img, err := rootfs.Build(rootfs.Options{CacheDir: *cache, Log: log, Force: *force})
	if err != nil {
		return err
	}
	if *printOnly {
		printPaths(img)
		return nil
	}
	describe(img)
	return nil
}

// imageOutputs names each output: the key for --print and a label for people.
func imageOutputs(img *rootfs.Image) [][3]string {
	return [][3]string{
		{"dir", "root filesystem", img.Dir},
		{"rootfs_tar", "rootfs tarball", img.RootfsTar},
		{"rootfs_tar_gz", "rootfs tarball (gzip)", img.RootfsTarGz},
		{"docker", "docker archive", img.DockerArchive},
		{"oci", "OCI layout", img.OCILayout},
		{"oci_tar", "OCI layout tarball", img.OCITar},
		{"probe", "probe binary", img.Probe},
	}
}

func printPaths(img *rootfs.Image) {
	for _, o := range imageOutputs(img) {
		fmt.Printf("%s=%s\n", o[0], o[2])
	}
}

func describe(img *rootfs.Image) {
	fmt.Println()
	for _, o := range imageOutputs(img) {
		fmt.Printf("  %-22s %s\n", o[1], o[2])
	}
	fmt.Printf("  %-22s %s\n", "inputs digest", img.Digest)
	fmt.Printf("\nTry it: sudo chroot %s /bin/sh\n", img.Dir)
}

package main

// The commands that work on the state directory rather than on a running
// process: images (image import, images, tag, rmi), containers (ps, rm,
// commit, inspect) and volumes (volume ls, volume rm). Each is a few lines
// over the store (layers.go, images.go, containers.go, commit.go,
// volumes.go). They fail with exit code 125, like run when the runtime
// itself fails (docker's own commands use 1; one code is simpler here).

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// stateDirEnv moves the state directory, so that tests (and curious
// students) get a store of their own instead of /var/lib/boxlab.
const stateDirEnv = "BOXLAB_STATE_DIR"

// stateDir is where images, layers, container records and volumes live.
func stateDir() string {
	if dir := os.Getenv(stateDirEnv); dir != "" {
		return dir
	}
	return defaultStateDir
}

// storeCommands are the subcommands main hands to storeCommand, with
// their usage and what `VERB --help` says they do.
var storeCommands = map[string]struct{ usage, about string }{
	"image":   {"image import [--explain] [--max-size SIZE] [--max-files N] FILE [NAME[:TAG]]", "imports a rootfs tarball (.tar, .tar.gz), a docker save archive or an\nOCI image layout (directory or tar) as NAME[:TAG]"},
	"images":  {"images", "lists the images"},
	"tag":     {"tag IMAGE NAME[:TAG]", "gives IMAGE one more name"},
	"rmi":     {"rmi IMAGE...", "removes a name, and the image and its layers when nothing else uses them"},
	"ps":      {"ps [-a]", "lists the running containers (-a: every container)"},
	"rm":      {"rm CONTAINER...", "removes a stopped container with its writable layer"},
	"commit":  {"commit CONTAINER [NAME[:TAG]]", "makes an image of the container's changes, on the layers of its image"},
	"inspect": {"inspect CONTAINER...", "prints the containers' records as JSON, with their overlay directories"},
	"volume":  {"volume ls | volume rm NAME...", "lists or removes named volumes"},
}

// storeFlags are the flags of the store verbs: --explain for every one,
// the others for the one verb they mean something to.
type storeFlags struct {
	all      bool
	maxSize  string
	maxFiles int64
}

func (f *storeFlags) flagSet(verb string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(verb, pflag.ContinueOnError)
	fs.SetInterspersed(false)
	fs.BoolVar(&explainOn, "explain", false, "print each kernel-level step and its shell equivalent")
	switch verb {
	case "ps":
		fs.BoolVarP(&f.all, "all", "a", false, "list every container, not only the running ones")
	case "image":
		fs.StringVar(&f.maxSize, "max-size", "", "write at most `SIZE` of files (default 16g, or $"+importMaxSizeEnv+")")
		fs.Int64Var(&f.maxFiles, "max-files", 0, "write at most `N` files (default 1048576, or $"+importMaxFilesEnv+")")
	}
	return fs
}

// storeCommand runs one of storeCommands.
func storeCommand(verb string, args []string) int {
	// `image import` and `volume ls|rm`: the flags come after the second
	// word, as the usage shows them.
	var sub []string
	if (verb == "image" || verb == "volume") && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[:1], args[1:]
	}
	var f storeFlags
	fs := f.flagSet(verb)
	if ok, code := parseVerbFlags(fs, args, storeCommands[verb].usage, storeCommands[verb].about); !ok {
		return code
	}
	args = append(sub, fs.Args()...)
	usage := fmt.Errorf("usage: %s %s", progName, storeCommands[verb].usage)
	s, err := openStore(stateDir())
	if err != nil {
		return failRuntime(err)
	}
	p := newProgress(os.Stdout)
	switch {
	case verb == "image" && len(args) >= 2 && len(args) <= 3 && args[0] == "import":
		ref := ""
		if len(args) == 3 {
			ref = args[2]
		}
		var lim importLimits
		if lim, err = importLimitFlags(f.maxSize, f.maxFiles); err == nil {
			_, err = s.importImageLimited(args[1], ref, p, lim)
		}
	case verb == "images" && len(args) == 0:
		var rows []imageRow
		if rows, err = s.listImages(); err == nil {
			err = printImages(os.Stdout, rows)
		}
	case verb == "tag" && len(args) == 2:
		err = s.tagImage(args[0], args[1])
	case verb == "rmi" && len(args) > 0:
		err = eachArg(args, func(ref string) error { return s.removeImage(ref, p) })
	case verb == "ps" && len(args) == 0:
		var cs []*container
		if cs, err = s.containers(); err == nil {
			err = printContainers(os.Stdout, cs, f.all)
		}
	case verb == "rm" && len(args) > 0:
		err = eachArg(args, func(ref string) error {
			c, err := s.removeContainer(ref)
			if err == nil {
				fmt.Println(c.Name)
			}
			return err
		})
	case verb == "commit" && (len(args) == 1 || len(args) == 2):
		ref := ""
		if len(args) == 2 {
			ref = args[1]
		}
		_, err = s.commit(args[0], ref, p)
	case verb == "inspect" && len(args) > 0:
		err = inspectCommand(s, args)
	case verb == "volume" && len(args) == 1 && args[0] == "ls":
		var vs []volumeInfo
		if vs, err = s.listVolumes(); err == nil {
			err = printVolumes(os.Stdout, vs)
		}
	case verb == "volume" && len(args) > 1 && args[0] == "rm":
		err = eachArg(args[1:], func(name string) error {
			err := s.removeVolume(name)
			if err == nil {
				fmt.Println(name)
			}
			return err
		})
	default:
		err = usage
	}
	if err != nil {
		return failRuntime(err)
	}
	return 0
}

// importLimitFlags are the limits of one import: the defaults (or the
// environment's), raised or lowered by --max-size and --max-files.
func importLimitFlags(size string, files int64) (importLimits, error) {
	lim, err := defaultImportLimits()
	if err != nil {
		return lim, err
	}
	if size != "" {
		if lim.maxBytes, err = parseSize(size); err != nil {
			return lim, fmt.Errorf("--max-size %s: %w", size, err)
		}
	}
	switch {
	case files < 0:
		return lim, fmt.Errorf("--max-files %d: want a positive number of files", files)
	case files > 0:
		lim.maxFiles = files
	}
	return lim, nil
}

// eachArg runs f on every argument, as docker's rm and rmi do: one failure
// does not stop the others, and is reported with its own line.
func eachArg(args []string, f func(string) error) error {
	var last error
	for _, a := range args {
		if err := f(a); err != nil {
			if last != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", progName, last)
			}
			last = err
		}
	}
	return last
}

// inspectCommand prints the containers as a JSON array, as docker inspect.
func inspectCommand(s *store, refs []string) error {
	var out []inspectData
	for _, ref := range refs {
		c, err := s.findContainer(ref)
		if err != nil {
			return err
		}
		out = append(out, s.inspect(c))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false) // print "2>&1" as it is, as docker does
	enc.SetIndent("", "    ")
	return enc.Encode(out)
}

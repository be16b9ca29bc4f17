package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ConfigName is the bundle's configuration file (runtime-spec bundle.md).
const ConfigName = "config.json"

// MaxConfigSize bounds what Load reads. runc's default config is under
// 3 KiB and a docker one with a large seccomp profile about 30 KiB; 4 MiB
// leaves room for any real one while a bundle cannot make the runtime
// read (and hold in memory) an endless file.
const MaxConfigSize = 4 << 20

// Load reads bundleDir/config.json. It refuses what a runtime must not
// trust blindly: a symlink (O_NOFOLLOW: the bundle names the file, not
// some other file it points at), anything but a regular file (a FIFO
// would block open(2) until a writer came, which may be never), a file
// over MaxConfigSize, JSON that is not one object, and any key the
// runtime-spec does not define: encoding/json drops unknown keys, and a
// setting dropped silently is a setting ignored, so each is named with its
// path. Load does not Validate.
func Load(bundleDir string) (*specs.Spec, error) {
	name := filepath.Join(bundleDir, ConfigName)
	data, err := readBounded(name)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse decodes a config.json's bytes, with Load's checks of its shape.
func Parse(data []byte) (*specs.Spec, error) {
	var raw any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: not valid JSON: %w", ConfigName, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: more than one JSON value: a config is one object", ConfigName)
	}
	if _, ok := raw.(map[string]any); !ok {
		return nil, fmt.Errorf("%s: a config is a JSON object, not %s", ConfigName, jsonKind(raw))
	}
	if unknown := unknownKeys(raw, specType, ""); len(unknown) > 0 {
		return nil, fmt.Errorf("%s: %q is not a runtime-spec %s field: remove it (or check its spelling against the runtime-spec's config.md)", ConfigName, unknown[0], specs.Version)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", ConfigName, describeJSONError(err))
	}
	return &s, nil
}

// readBounded reads a regular file of at most MaxConfigSize bytes.
func readBounded(name string) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s not found: is %s a bundle? ('stage06-full spec' writes a default one)", name, filepath.Dir(name))
	case errors.Is(err, syscall.ELOOP):
		return nil, fmt.Errorf("%s is a symbolic link: refusing to follow it; copy the file into the bundle", name)
	case err != nil:
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is a %s, not a regular file: refusing to read it", name, fileKind(fi.Mode()))
	}
	if fi.Size() > MaxConfigSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d bytes a config may have", name, fi.Size(), MaxConfigSize)
	}
	// Regular files never block; read one byte past the bound in case
	// the file grew since fstat(2).
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("%s is more than the %d bytes a config may have", name, MaxConfigSize)
	}
	return data, nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "an object"
}

// describeJSONError names the field of a type mismatch by its JSON path
// ("process.user.uid"), which encoding/json knows but prints as Go types.
func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("%s: %s is not a valid %s", te.Field, te.Value, te.Type)
	}
	return err
}

package main

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

// imageConfig is the part of an image's config (OCI image-spec config.md;
// docker writes the same JSON) that boxlab reads. The config is stored as
// it came, byte for byte: its sha256 is the image ID.
type imageConfig struct {
	Architecture string    `json:"architecture,omitempty"`
	OS           string    `json:"os,omitempty"`
	Config       runConfig `json:"config"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// runConfig is what `run` starts the container with when the user does
// not say otherwise.
type runConfig struct {
	Env        []string `json:"Env,omitempty"`
	Cmd        []string `json:"Cmd,omitempty"`
	Entrypoint []string `json:"Entrypoint,omitempty"`
	WorkingDir string   `json:"WorkingDir,omitempty"`
	User       string   `json:"User,omitempty"`
}

// image is one stored image.
type image struct {
	ID     string // sha256:<hex> of raw
	Config imageConfig
	raw    []byte
	Tags   []string // NAME:TAG pointing at it
}

// Layers are the image's layer digests, bottom first.
func (img *image) Layers() []string { return img.Config.RootFS.DiffIDs }

// parseImageConfig reads a config and checks what boxlab relies on.
func parseImageConfig(raw []byte) (imageConfig, error) {
	var c imageConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("image config: %w", err)
	}
	if c.RootFS.Type != "layers" {
		return c, fmt.Errorf("image config: rootfs type %q, want \"layers\"", c.RootFS.Type)
	}
	for _, d := range c.RootFS.DiffIDs {
		if err := checkDigest(d); err != nil {
			return c, fmt.Errorf("image config: %w", err)
		}
	}
	return c, nil
}

// Reference names: NAME[:TAG], docker's grammar without digests. A name is
// lower-case path components, optionally after a registry host[:port].
var (
	refNameRe = regexp.MustCompile(`^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?` +
		`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	refTagRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	hex64Re  = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// parseRef splits NAME[:TAG] and fills in the tag "latest", as docker
// does. The tag is what follows the last ':' unless a '/' comes after it
// (then the ':' belonged to a registry port).
func parseRef(ref string) (string, error) {
	name, tag := ref, "latest"
	if i := strings.LastIndex(ref, ":"); i >= 0 && !strings.Contains(ref[i+1:], "/") {
		name, tag = ref[:i], ref[i+1:]
	}
	switch {
	case strings.Contains(ref, "@"):
		return "", fmt.Errorf("image name %q: digest references are not supported, use NAME[:TAG]", ref)
	case len(name) > 255 || !refNameRe.MatchString(name):
		return "", fmt.Errorf("image name %q: want lower-case letters, digits and separators (._-/), like boxlab/test:latest", ref)
	case hex64Re.MatchString(name):
		return "", fmt.Errorf("image name %q: 64 hex digits would look like an image ID", ref)
	case !refTagRe.MatchString(tag):
		return "", fmt.Errorf("image tag %q: want up to 128 letters, digits, '_', '.', '-'", tag)
	}
	return name + ":" + tag, nil
}

func (s *store) imageDir(id string) string {
	return s.path("images", "sha256", strings.TrimPrefix(id, "sha256:"))
}

// saveImage stores a config whose layers are all present and points ref
// ("" for none) at it. A tag that named another image moves, leaving that
// one untagged, as in docker. The caller holds the lock.
func (s *store) saveImage(raw []byte, ref string) (*image, error) {
	c, err := parseImageConfig(raw)
	if err != nil {
		return nil, err
	}
	for _, d := range c.RootFS.DiffIDs {
		if !s.hasLayer(d) {
			return nil, fmt.Errorf("image config names layer %s, which is not stored", d)
		}
	}
	sum := sha256.Sum256(raw)
	img := &image{ID: "sha256:" + hex.EncodeToString(sum[:]), Config: c, raw: raw}
	if err := os.MkdirAll(s.imageDir(img.ID), 0o700); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(s.imageDir(img.ID), "config.json"), raw); err != nil {
		return nil, err
	}
	if ref == "" {
		return img, nil
	}
	tags, err := s.tags()
	if err != nil {
		return nil, err
	}
	tags[ref] = img.ID
	return img, s.writeTags(tags)
}

// loadImage reads a stored image by its full ID.
func (s *store) loadImage(id string) (*image, error) {
	if err := checkDigest(id); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(s.imageDir(id), "config.json"))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	c, err := parseImageConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	img := &image{ID: id, Config: c, raw: raw}
	tags, err := s.tags()
	for ref, tid := range tags {
		if tid == id {
			img.Tags = append(img.Tags, ref)
		}
	}
	sort.Strings(img.Tags)
	return img, err
}

func (s *store) tags() (map[string]string, error) {
	tags := map[string]string{}
	b, err := os.ReadFile(s.path("images", "tags.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return tags, nil
	}
	if err != nil {
		return nil, err
	}
	return tags, json.Unmarshal(b, &tags)
}

func (s *store) writeTags(tags map[string]string) error {
	b, err := json.MarshalIndent(tags, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path("images", "tags.json"), append(b, '\n'))
}

// errNoImage says an image reference matched nothing.
var errNoImage = errors.New("no such image")

// findImage resolves NAME[:TAG], a full or shortened image ID (at least 4
// hex digits, as long as only one image matches), or sha256:ID.
func (s *store) findImage(ref string) (*image, error) {
	tags, err := s.tags()
	if err != nil {
		return nil, err
	}
	if full, err := parseRef(ref); err == nil {
		if id, ok := tags[full]; ok {
			return s.loadImage(id)
		}
	}
	prefix := strings.TrimPrefix(ref, "sha256:")
	if len(prefix) < 4 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("%w: %s", errNoImage, ref)
	}
	ids, err := s.imageIDs()
	if err != nil {
		return nil, err
	}
	var found []string
	for _, id := range ids {
		if strings.HasPrefix(strings.TrimPrefix(id, "sha256:"), prefix) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: %s", errNoImage, ref)
	case 1:
		return s.loadImage(found[0])
	}
	return nil, fmt.Errorf("image ID %s is ambiguous: give more digits", ref)
}

func (s *store) imageIDs() ([]string, error) {
	entries, err := os.ReadDir(s.path("images", "sha256"))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if id := "sha256:" + e.Name(); checkDigest(id) == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// imageRow is one line of `images`.
type imageRow struct {
	Repository, Tag, ID string
	Layers              int
	Size                int64
}

// listImages gives one row per tag, and one per untagged image.
func (s *store) listImages() ([]imageRow, error) {
	ids, err := s.imageIDs()
	if err != nil {
		return nil, err
	}
	var rows []imageRow
	for _, id := range ids {
		img, err := s.loadImage(id)
		if err != nil {
			return nil, err
		}
		row := imageRow{Repository: "<none>", Tag: "<none>", ID: id, Layers: len(img.Layers())}
		for _, d := range img.Layers() {
			l, err := s.layer(d)
			if err != nil {
				return nil, err
			}
			row.Size += cmp.Or(l.Content, l.Size) // an older boxlab's layer: its tar's size
		}
		if len(img.Tags) == 0 {
			rows = append(rows, row)
		}
		for _, t := range img.Tags {
			i := strings.LastIndex(t, ":")
			row.Repository, row.Tag = t[:i], t[i+1:]
			rows = append(rows, row)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].Repository+":"+rows[i].Tag < rows[j].Repository+":"+rows[j].Tag
	})
	return rows, nil
}

// printImages writes rows as `docker images` does, with a LAYERS column.
func printImages(w io.Writer, rows []imageRow) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tLAYERS\tSIZE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.Repository, r.Tag, shortID(r.ID), r.Layers, humanSize(r.Size))
	}
	return tw.Flush()
}

// shortID is the 12 hex digits docker shows.
func shortID(id string) string {
	h := strings.TrimPrefix(id, "sha256:")
	return h[:min(12, len(h))]
}

// tagImage makes dst another name for the image src names.
func (s *store) tagImage(src, dst string) error {
	ref, err := parseRef(dst)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	img, err := s.findImage(src)
	if err != nil {
		return err
	}
	tags, err := s.tags()
	if err != nil {
		return err
	}
	tags[ref] = img.ID
	return s.writeTags(tags)
}

// removeImage is `rmi`: untag ref, and when the image has no tag left,
// delete it and every layer no other image or container uses. An image a
// container was made from stays until the container is removed.
func (s *store) removeImage(ref string, p *progress) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	img, err := s.findImage(ref)
	if err != nil {
		return err
	}
	named, _ := parseRef(ref)
	byTag := slices.Contains(img.Tags, named)
	if !byTag && len(img.Tags) > 1 {
		return fmt.Errorf("image %s has several names (%s): rmi them one by one", ref, strings.Join(img.Tags, ", "))
	}
	lastName := !byTag || len(img.Tags) == 1
	users, err := s.containersUsing(img.ID)
	if err != nil {
		return err
	}
	if lastName && len(users) > 0 {
		return fmt.Errorf("image %s is used by container %s: remove it first with 'rm %s'",
			ref, strings.Join(users, ", "), users[0])
	}
	tags, err := s.tags()
	if err != nil {
		return err
	}
	for _, t := range img.Tags {
		if !byTag || t == named {
			delete(tags, t)
			p.line("Untagged: %s", t)
		}
	}
	if err := s.writeTags(tags); err != nil {
		return err
	}
	if !lastName {
		return nil // other names still hold the image
	}
	if err := os.RemoveAll(s.imageDir(img.ID)); err != nil {
		return fmt.Errorf("remove image %s: %w", img.ID, err)
	}
	p.line("Deleted: %s", img.ID)
	return s.collectLayers(p)
}

// collectLayers removes the layers that no image and no container uses.
// The users are counted from the records each time rather than kept as
// counters, which a killed process could leave wrong. The lock is held.
func (s *store) collectLayers(p *progress) error {
	used := map[string]bool{}
	ids, err := s.imageIDs()
	if err != nil {
		return err
	}
	for _, id := range ids {
		img, err := s.loadImage(id)
		if err != nil {
			return err
		}
		for _, d := range img.Layers() {
			used[d] = true
		}
	}
	cs, err := s.containers()
	if err != nil {
		return err
	}
	for _, c := range cs {
		for _, d := range c.Layers {
			used[d] = true
		}
	}
	all, err := s.layerDigests()
	if err != nil {
		return err
	}
	for _, d := range all {
		if !used[d] {
			if err := s.removeLayer(d); err != nil {
				return err
			}
			p.line("Deleted layer: %s", d)
		}
	}
	return nil
}

// writeFileAtomic replaces name with data in one rename(2): readers see
// the old file or the new one, never half of one.
func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

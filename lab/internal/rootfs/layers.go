package rootfs

import (
	"archive/tar"
	"path"
	"sort"
	"strings"
)

// An entry is one file of a layer or of the merged tree: exactly one tar
// header (plus its body).
type entry struct {
	name     string // slash-separated, relative to the root, no trailing slash
	kind     byte   // tar.TypeDir, tar.TypeReg or tar.TypeSymlink
	mode     int64  // permission bits with setuid/setgid/sticky, as in a tar header
	uid, gid int
	body     []byte // contents of a regular file
	link     string // target of a symlink
}

func dirEntry(name string, mode int64) entry {
	return entry{name: name, kind: tar.TypeDir, mode: mode}
}

func fileEntry(name string, mode int64, body []byte) entry {
	return entry{name: name, kind: tar.TypeReg, mode: mode, body: body}
}

func textFile(name, body string) entry { return fileEntry(name, 0o644, []byte(body)) }

func symlinkEntry(name, target string) entry {
	return entry{name: name, kind: tar.TypeSymlink, mode: 0o777, link: target}
}

// The names overlayfs-style layers use for deletions (the OCI image spec,
// "Whiteouts"): ".wh.NAME" deletes NAME from the layers below, and
// ".wh..wh..opq" inside a directory hides everything the layers below put
// in it.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// baseDirs are the directories of layer 1, with the modes a real
// distribution gives them: /tmp is world-writable and sticky, /root private.
var baseDirs = []entry{
	dirEntry("bin", 0o755), dirEntry("dev", 0o755), dirEntry("etc", 0o755),
	dirEntry("etc/boxlab", 0o755), dirEntry("home", 0o755),
	{name: "home/student", kind: tar.TypeDir, mode: 0o755, uid: 1000, gid: 1000},
	dirEntry("mnt", 0o755), dirEntry("opt", 0o755), dirEntry("opt/legacy", 0o755),
	dirEntry("proc", 0o555), dirEntry("root", 0o700), dirEntry("run", 0o755),
	dirEntry("sbin", 0o755), dirEntry("srv", 0o755), dirEntry("sys", 0o555),
	dirEntry("tmp", 0o1777), dirEntry("usr", 0o755), dirEntry("usr/bin", 0o755),
	dirEntry("usr/sbin", 0o755), dirEntry("var", 0o755), dirEntry("var/tmp", 0o1777),
}

// etcFiles make the image look like a small distribution. resolv.conf
// points nowhere real on purpose: tests never talk to a real DNS server.
var etcFiles = []entry{
	textFile("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"+
		"student:x:1000:1000:student:/home/student:/bin/sh\n"+
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
	textFile("etc/group", "root:x:0:\nstudent:x:1000:\nnogroup:x:65534:\n"),
	textFile("etc/hostname", "boxlab\n"),
	textFile("etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"),
	textFile("etc/resolv.conf", "# boxlab test image: no real DNS server on purpose.\n"+
		"# Tests that need names bring their own server.\n"+
		"nameserver 127.0.0.1\n"),
	textFile("etc/os-release", "NAME=\"boxlab test image\"\n"+
		"ID=boxlab\n"+
		"VERSION_ID="+formatVersion+"\n"+
		"PRETTY_NAME=\"boxlab test image (busybox + probe)\"\n"),
}

// baseLayer is layer 1: busybox with its applets, /etc, the empty
// directories, and the files layer 3 deletes.
func baseLayer(busybox []byte, applets []string) []entry {
	es := append([]entry{}, baseDirs...)
	es = append(es, etcFiles...)
	es = append(es,
		fileEntry("bin/busybox", 0o755, busybox),
		textFile("etc/boxlab/removed-by-layer3", "layer 3 deletes this file with a whiteout\n"),
		textFile("opt/legacy/old.txt", "layer 3 hides this directory with an opaque whiteout\n"),
		textFile("opt/legacy/keep-me-not.txt", "layer 3 hides this one too\n"),
	)
	return withParents(addApplets(es, applets))
}

// addApplets links every applet to /bin/busybox, which picks the applet
// from argv[0]. Relative links work both inside the container and when the
// tree is looked at from the host. Applets at the top (linuxrc, an initrd's
// init) would only clutter `ls /`.
func addApplets(es []entry, applets []string) []entry {
	taken := map[string]bool{}
	for _, e := range es {
		taken[e.name] = true
	}
	for _, a := range applets {
		a = strings.TrimPrefix(path.Clean("/"+a), "/")
		if !strings.Contains(a, "/") || taken[a] {
			continue
		}
		taken[a] = true
		es = append(es, symlinkEntry(a, relativeTo(a, "bin/busybox")))
	}
	return es
}

// relativeTo gives the symlink target that reaches target (relative to the
// root) from a link at name.
func relativeTo(name, target string) string {
	dir := path.Dir(name)
	if dir == path.Dir(target) {
		return path.Base(target)
	}
	return strings.Repeat("../", strings.Count(name, "/")) + target
}

// addLayer is layer 2: it only adds files.
func addLayer(probe []byte) []entry {
	return withParents([]entry{
		fileEntry("bin/probe", 0o755, probe),
		textFile("etc/boxlab/added-by-layer2", "layer2\n"),
		textFile("etc/motd", "welcome to the boxlab test image\n"),
	})
}

// deleteLayer is layer 3: one whiteout and one opaque directory, written
// as docker writes them (empty regular files).
func deleteLayer() []entry {
	return withParents([]entry{
		fileEntry("etc/boxlab/"+whiteoutPrefix+"removed-by-layer3", 0o600, nil),
		fileEntry("opt/legacy/"+opaqueMarker, 0o600, nil),
		textFile("opt/legacy/new.txt", "layer 3 put this in the opaque directory\n"),
	})
}

// withParents adds the missing parent directories, as docker does in a
// layer, then sorts: a parent's name is a prefix of its children's, so it
// sorts (and is unpacked) first.
func withParents(es []entry) []entry {
	have := map[string]bool{}
	for _, e := range es {
		have[e.name] = true
	}
	for _, e := range es {
		for d := path.Dir(e.name); d != "." && !have[d]; d = path.Dir(d) {
			have[d] = true
			es = append(es, parentDir(d))
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })
	return es
}

// parentDir gives a directory the metadata layer 1 gives it, so that a
// later layer repeating it changes nothing.
func parentDir(name string) entry {
	for _, d := range baseDirs {
		if d.name == name {
			return d
		}
	}
	return dirEntry(name, 0o755)
}

// merge applies layers in order, as overlayfs and `docker load` do: a
// whiteout deletes its target and everything under it from the layers
// below; an opaque marker empties its directory of what the layers below
// put there, but keeps what its own layer adds.
func merge(layers [][]entry) []entry {
	tree := map[string]entry{}
	for _, l := range layers {
		for _, e := range l {
			dir, base := path.Dir(e.name), path.Base(e.name)
			switch {
			case base == opaqueMarker:
				removeTree(tree, dir, false)
			case strings.HasPrefix(base, whiteoutPrefix):
				removeTree(tree, path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)), true)
			}
		}
		for _, e := range l {
			if !strings.HasPrefix(path.Base(e.name), whiteoutPrefix) {
				tree[e.name] = e
			}
		}
	}
	out := make([]entry, 0, len(tree))
	for _, e := range tree {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// removeTree deletes everything under name, and name itself if self.
func removeTree(tree map[string]entry, name string, self bool) {
	if self {
		delete(tree, name)
	}
	prefix := name + "/"
	if name == "." {
		prefix = ""
	}
	for n := range tree {
		if strings.HasPrefix(n, prefix) {
			delete(tree, n)
		}
	}
}

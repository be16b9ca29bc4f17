package rootfs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// epoch is every file's mtime. With fixed times, sorted entries, numeric
// ids and no PAX records, the same inputs give byte-identical tarballs, so
// layer digests only change when their content does.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// tarEntries writes es, in order, as a USTAR archive. USTAR has no room for
// atimes, ctimes or extended attributes, which is what keeps it
// reproducible; an entry it cannot hold is an error, not a silent PAX record.
func tarEntries(es []entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		if err := tw.WriteHeader(header(e)); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func header(e entry) *tar.Header {
	h := &tar.Header{
		Typeflag: e.kind,
		Name:     e.name,
		Mode:     e.mode,
		Uid:      e.uid,
		Gid:      e.gid,
		ModTime:  epoch,
		Format:   tar.FormatUSTAR,
	}
	switch e.kind {
	case tar.TypeDir:
		h.Name += "/"
	case tar.TypeReg:
		h.Size = int64(len(e.body))
	case tar.TypeSymlink:
		h.Linkname = e.link
	}
	return h
}

// gzipBytes compresses b with an empty gzip header (no name, no mtime), so
// the compressed blob, and so its digest, depends on b alone.
func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// digestHex is the hex sha256 of b: blob names, layer directory names.
func digestHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// digestOf is the "sha256:..." form used in image configs and descriptors.
func digestOf(b []byte) string { return "sha256:" + digestHex(b) }

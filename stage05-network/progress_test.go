package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Not a terminal: no running count, status lines only.
func TestProgressQuietWhenNotATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	p := newProgress(w)
	assert.False(t, p.live)
	var buf bytes.Buffer
	p.w = &buf
	p.start("unpacking")
	p.add(1<<20, 10)
	p.done()
	p.line("layer %s already present", "sha256:x")
	w.Close()
	assert.Equal(t, "layer sha256:x already present\n", buf.String())

	var nilp *progress
	nilp.add(1, 1) // a nil progress is quiet, not a crash
	nilp.line("x")
}

func TestProgressDrawsOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, live: true}
	p.start("unpacking")
	p.add(2_500_000, 3)
	p.done()
	assert.Contains(t, buf.String(), "unpacking: 2.5MB, 3 files")
}

func TestHumanSize(t *testing.T) {
	assert.Equal(t, "999B", humanSize(999))
	assert.Equal(t, "4.79MB", humanSize(4786688))
	assert.Equal(t, "1.2GB", humanSize(1_200_000_000))
}

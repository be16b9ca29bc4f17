package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"boxlab/lab/labtest"
)

// BenchmarkImport measures `image import` of the test image's docker save
// archive into an empty store: MB/s of archive read.
func BenchmarkImport(b *testing.B) {
	labtest.RequireRoot(b)
	src := labtest.TestImage(b).DockerArchive
	fi, err := os.Stat(src)
	require.NoError(b, err)
	b.SetBytes(fi.Size())
	for b.Loop() {
		b.StopTimer()
		s := testStore(b)
		b.StartTimer()
		_, err := s.importImage(src, "", nil)
		require.NoError(b, err)
		b.StopTimer()
		require.NoError(b, os.RemoveAll(s.root))
		b.StartTimer()
	}
}

// BenchmarkOverlayMount measures mounting and unmounting a container's
// root made of 1, 10 and 50 layers (the last with short l/ names).
func BenchmarkOverlayMount(b *testing.B) {
	labtest.RequireRoot(b)
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("layers=%d", n), func(b *testing.B) {
			s := testStore(b)
			var ids []string
			for i := range n {
				l, _, err := s.addLayer(bytes.NewReader(makeTar(b, reg(fmt.Sprintf("f%d", i), "x"))), "", nil)
				require.NoError(b, err)
				ids = append(ids, l.Digest)
			}
			raw, err := json.Marshal(map[string]any{"rootfs": map[string]any{"type": "layers", "diff_ids": ids}})
			require.NoError(b, err)
			_, err = s.saveImage(raw, "bench:latest")
			require.NoError(b, err)
			c := &container{Image: "bench"}
			require.NoError(b, s.createContainer(c, nil))
			b.Cleanup(func() { s.deleteContainer(c) })
			m := s.containerOverlay(c)
			for b.Loop() {
				if err := mountOverlay(m); err != nil {
					b.Fatal(err)
				}
				if err := unmountOverlay(m.Merged); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

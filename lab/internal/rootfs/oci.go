package rootfs

import (
	"encoding/json"
	"runtime"
)

// Media types and the ref-name annotation of the OCI image spec
// (image-layout.md, manifest.md, annotations.md).
const (
	mediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayerGz  = "application/vnd.oci.image.layer.v1.tar+gzip"
	refNameAnnotation = "org.opencontainers.image.ref.name"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type ociManifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

type ociIndex struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

// ociLayout gives the files of an OCI image layout: every blob (config,
// gzipped layers, manifest) under blobs/sha256/<hex>, found from index.json.
// The config's diff_ids are digests of the uncompressed layers; the
// manifest names the compressed blobs.
func ociLayout(config []byte, layers [][]byte) ([]entry, error) {
	es := []entry{textFile("oci-layout", `{"imageLayoutVersion":"1.0.0"}`)}
	blob := func(mediaType string, b []byte) descriptor {
		es = append(es, fileEntry("blobs/sha256/"+digestHex(b), 0o644, b))
		return descriptor{MediaType: mediaType, Digest: digestOf(b), Size: int64(len(b))}
	}
	m := ociManifest{SchemaVersion: 2, MediaType: mediaTypeManifest,
		Config: blob(mediaTypeConfig, config)}
	for _, l := range layers {
		gz, err := gzipBytes(l)
		if err != nil {
			return nil, err
		}
		m.Layers = append(m.Layers, blob(mediaTypeLayerGz, gz))
	}
	manifest, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	d := blob(mediaTypeManifest, manifest)
	d.Annotations = map[string]string{refNameAnnotation: tag}
	d.Platform = &platform{Architecture: runtime.GOARCH, OS: "linux"}
	index, err := json.Marshal(ociIndex{SchemaVersion: 2, MediaType: mediaTypeIndex,
		Manifests: []descriptor{d}})
	if err != nil {
		return nil, err
	}
	es = append(es, fileEntry("index.json", 0o644, index))
	return withParents(es), nil
}

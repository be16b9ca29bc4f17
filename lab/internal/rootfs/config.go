package rootfs

import (
	"encoding/json"
	"runtime"
)

// RepoTag names the image in the docker archive; the OCI layout calls it
// by its tag alone.
const (
	RepoTag = "boxlab/test:latest"
	repo    = "boxlab/test"
	tag     = "latest"
)

// The image config (OCI image-spec config.md; docker reads the same JSON).
// Plain structs rather than the image-spec module: these few fields are
// all the lab needs, and students can read them here.
type imageConfig struct {
	Created      string        `json:"created"`
	Architecture string        `json:"architecture"`
	OS           string        `json:"os"`
	Config       runConfig     `json:"config"`
	RootFS       rootFS        `json:"rootfs"`
	History      []historyItem `json:"history"`
}

type runConfig struct {
	Env        []string `json:"Env"`
	Cmd        []string `json:"Cmd"`
	WorkingDir string   `json:"WorkingDir"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type historyItem struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
}

// layerHistory says, in `docker history`, what each layer is for.
var layerHistory = []string{
	"boxlab: base (busybox, /etc, files that layer 3 deletes)",
	"boxlab: adds /bin/probe, /etc/motd, /etc/boxlab/added-by-layer2",
	"boxlab: deletes (whiteout /etc/boxlab/removed-by-layer3, opaque /opt/legacy)",
}

// configJSON is the config for layers with the given uncompressed digests.
// json.Marshal of structs is deterministic, so is its digest.
func configJSON(diffIDs []string) ([]byte, error) {
	created := epoch.Format("2006-01-02T15:04:05Z")
	c := imageConfig{
		Created:      created,
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Config: runConfig{
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"BOXLAB_IMAGE=test",
			},
			Cmd:        []string{"/bin/sh"},
			WorkingDir: "/",
		},
		RootFS: rootFS{Type: "layers", DiffIDs: diffIDs},
	}
	for _, h := range layerHistory {
		c.History = append(c.History, historyItem{Created: created, CreatedBy: h})
	}
	return json.Marshal(c)
}

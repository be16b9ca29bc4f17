package rootfs

import (
	"encoding/json"
	"path"
)

// The `docker save` archive, in the classic layout `docker load` has always
// read: manifest.json names the config and the layer tars; each layer sits
// in its own directory with a VERSION and a legacy json file.
type dockerManifest struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// legacyLayer is the per-layer "json" file of the v1 format. Modern docker
// ignores it when manifest.json is present; it is written for older tools.
type legacyLayer struct {
	ID      string `json:"id"`
	Parent  string `json:"parent,omitempty"`
	Created string `json:"created"`
	OS      string `json:"os"`
}

// dockerArchive lays out the config and the uncompressed layer tars as
// docker save does. Layer directories are named by the layers' diff_ids,
// which keeps them unique and lets a reader check each one.
func dockerArchive(config []byte, layers [][]byte) ([]byte, error) {
	configName := digestHex(config) + ".json"
	es := []entry{fileEntry(configName, 0o644, config)}
	m := dockerManifest{Config: configName, RepoTags: []string{RepoTag}}
	parent := ""
	for _, l := range layers {
		id := digestHex(l)
		legacy, err := json.Marshal(legacyLayer{ID: id, Parent: parent,
			Created: epoch.Format("2006-01-02T15:04:05Z"), OS: "linux"})
		if err != nil {
			return nil, err
		}
		es = append(es, dirEntry(id, 0o755),
			fileEntry(path.Join(id, "VERSION"), 0o644, []byte("1.0")),
			fileEntry(path.Join(id, "json"), 0o644, legacy),
			fileEntry(path.Join(id, "layer.tar"), 0o644, l))
		m.Layers = append(m.Layers, path.Join(id, "layer.tar"))
		parent = id
	}
	manifest, err := json.Marshal([]dockerManifest{m})
	if err != nil {
		return nil, err
	}
	repos, err := json.Marshal(map[string]map[string]string{repo: {tag: parent}})
	if err != nil {
		return nil, err
	}
	es = append(es, fileEntry("manifest.json", 0o644, manifest),
		fileEntry("repositories", 0o644, repos))
	return tarEntries(withParents(es))
}

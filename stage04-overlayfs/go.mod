module boxlab/stage04-overlayfs

go 1.26.0

require (
	boxlab/lab v0.0.0-00010101000000-000000000000
	github.com/spf13/pflag v1.1.0
	github.com/stretchr/testify v1.12.1
	github.com/vishvananda/netlink v1.3.1
	golang.org/x/sys v0.49.0
)

require (
	github.com/vishvananda/netns v0.0.5 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

replace boxlab/lab => ../lab

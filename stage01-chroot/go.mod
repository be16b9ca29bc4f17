module boxlab/stage01-chroot

go 1.26.0

require (
	boxlab/lab v0.0.0-00010101000000-000000000000
	github.com/spf13/pflag v1.1.0
	github.com/stretchr/testify v1.12.1
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace boxlab/lab => ../lab

module boxlab/stage06-full

go 1.26.0

require boxlab/lab v0.0.0-00010101000000-000000000000

require (
	github.com/opencontainers/runtime-spec v1.3.0 // indirect
	github.com/spf13/pflag v1.1.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace boxlab/lab => ../lab

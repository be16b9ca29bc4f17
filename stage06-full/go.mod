module boxlab/stage06-full

go 1.26.0

require (
	boxlab/lab v0.0.0-00010101000000-000000000000
	github.com/opencontainers/runtime-spec v1.3.0
	github.com/spf13/pflag v1.1.0
	golang.org/x/net v0.33.0
	golang.org/x/sys v0.49.0
)

require github.com/moby/profiles/seccomp v0.3.0

replace boxlab/lab => ../lab

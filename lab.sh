#!/usr/bin/env bash
# lab.sh: build and run the boxlab helper (lab/) with the Go toolchain found
# even under sudo, which resets PATH and often loses Go on the way.
#
#   sudo ./lab.sh tour     the guided tour of every stage
#   sudo ./lab.sh test     every stage's tests, with a scoreboard
#   ./lab.sh help          everything else
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

find_go() {
	if command -v go >/dev/null 2>&1; then
		command -v go
		return
	fi
	local c
	for c in /usr/local/go/bin/go /usr/lib/go/bin/go /snap/bin/go; do
		if [ -x "$c" ]; then
			echo "$c"
			return
		fi
	done
	# sudo dropped the invoking user's PATH: ask that user's login shell.
	if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
		c=$(sudo -u "$SUDO_USER" -i sh -c 'command -v go' 2>/dev/null || true)
		if [ -n "$c" ] && [ -x "$c" ]; then
			echo "$c"
			return
		fi
	fi
	return 1
}

if ! gobin=$(find_go); then
	echo "lab.sh: Go is not installed (or not on PATH)." >&2
	echo "  Install Go 1.26 or newer (https://go.dev/doc/install), or run vagrant/provision.sh." >&2
	exit 1
fi
export PATH="$(dirname "$gobin"):$PATH"
# A clone owned by your user, built by root: skip VCS stamping, which git's
# ownership check would refuse.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"
export BOXLAB_ROOT="$here"

mkdir -p "$here/.bin"
(cd "$here/lab" && "$gobin" build -o "$here/.bin/lab" .)
exec "$here/.bin/lab" "$@"

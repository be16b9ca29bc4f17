#!/usr/bin/env bash
# provision.sh: make a Linux machine ready for the boxlab workshop.
#
# Vagrant runs it as root on `vagrant up`; on any other Debian/Ubuntu host run
#   sudo ./vagrant/provision.sh
# It is idempotent: a second run changes nothing and says so.
#
# What it does, in order:
#   1. installs the apt packages the stages and tests use (apt-get update only
#      when something is missing);
#   2. installs the Go version named by the `go` line of go.work into
#      /usr/local/go, unless a Go at least that new is already there;
#   3. puts /usr/local/go/bin on PATH for every login shell
#      (/etc/profile.d/boxlab-go.sh) and for sudo (/etc/sudoers.d/boxlab-go);
#   4. lets root run git (and so `go build`) in the repository, which belongs
#      to the vagrant user;
#   5. checks that cgroup v2 is mounted and that the controllers the lab
#      uses can be delegated;
#   6. on the lab VM only (BOXLAB_LAB_VM=1, set by the Vagrantfile), lets
#      unprivileged users create user namespaces again, persistently: Ubuntu
#      24.04 sets kernel.apparmor_restrict_unprivileged_userns=1, and stage
#      2's rootless container (TestRootless) needs it off. Elsewhere it only
#      says so: on a machine of your own that restriction is worth keeping.
# It does not enable IP forwarding: stage 5 does that, and says so.
#
# Environment:
#   BOXLAB_ROOT         the repository (default: this script's parent directory,
#                       else /home/vagrant/boxlab)
#   BOXLAB_GO_VERSION   Go version to require instead of go.work's (e.g. 1.26.0)
#   BOXLAB_GO_NO_DOWNLOAD=1
#                       never download Go; fail if it is missing or too old
#   BOXLAB_GO_MIRROR    where to get goX.Y.Z.linux-ARCH.tar.gz and its .sha256
#                       when go.dev is blocked (a mirror laid out like dl.google.com/go)
#   BOXLAB_SKIP_APT=1   do not check or install apt packages
#   BOXLAB_LAB_VM=1     this machine is a throwaway lab VM: relax the userns
#                       sysctl (step 6) in /etc/sysctl.d

set -euo pipefail

readonly GO_PREFIX=/usr/local/go
readonly GO_BIN=$GO_PREFIX/bin
# Release files come from go.dev/dl (a redirect to dl.google.com/go), their
# SHA-256 sums from dl.google.com/go; BOXLAB_GO_MIRROR replaces both.
readonly GO_DL=${BOXLAB_GO_MIRROR:-https://go.dev/dl}
readonly GO_SUMS=${BOXLAB_GO_MIRROR:-https://dl.google.com/go}
readonly PROFILE_FILE=/etc/profile.d/boxlab-go.sh
readonly SUDOERS_FILE=/etc/sudoers.d/boxlab-go
readonly PACKAGES=(busybox-static nftables iproute2 cpio ca-certificates curl git
  build-essential sudo)
readonly CONTROLLERS=(cpu cpuset memory pids io)

step() { printf '\n==> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
warn() { printf '    WARNING: %s\n' "$*" >&2; }
die() {
  printf 'provision.sh: error: %s\n' "$*" >&2
  exit 1
}

# Temporary files and directories, removed on every exit path.
TEMPS=()
cleanup() { if ((${#TEMPS[@]})); then rm -rf -- "${TEMPS[@]}"; fi; }
trap cleanup EXIT
go_installed=

# ---------------------------------------------------------------- where

find_root() {
  if [[ -n ${BOXLAB_ROOT:-} ]]; then
    [[ -f $BOXLAB_ROOT/go.work ]] || die "BOXLAB_ROOT=$BOXLAB_ROOT has no go.work"
    (cd "$BOXLAB_ROOT" && pwd)
    return
  fi
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  if [[ -f $here/../go.work ]]; then
    (cd "$here/.." && pwd)
  elif [[ -f /home/vagrant/boxlab/go.work ]]; then
    echo /home/vagrant/boxlab
  else
    die "cannot find the boxlab repository (no go.work next to $here/..); set BOXLAB_ROOT"
  fi
}

# ---------------------------------------------------------------- apt

apt_missing() {
  local pkg status
  for pkg in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    [[ $status == "ii "* ]] || printf '%s\n' "$pkg"
  done
}

# apt-get waits for the dpkg lock itself (DPkg::Lock::Timeout, apt >= 1.9.11);
# `apt-get update` takes the lists lock, which it does not wait for, so retry.
# On a fresh VM, unattended-upgrades often holds both for a minute or two.
apt_update() {
  local try
  for try in 1 2 3 4 5 6 7 8 9 10; do
    if apt-get -o DPkg::Lock::Timeout=300 update -q; then
      return 0
    fi
    say "apt-get update failed (try $try/10; another apt may hold the lock); retrying in 15s"
    sleep 15
  done
  die "apt-get update kept failing"
}

install_packages() {
  step "apt packages: ${PACKAGES[*]}"
  if [[ ${BOXLAB_SKIP_APT:-} == 1 ]]; then
    say "skipped (BOXLAB_SKIP_APT=1)"
    return
  fi
  command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian and Ubuntu; install ${PACKAGES[*]} by hand and set BOXLAB_SKIP_APT=1"
  local missing
  mapfile -t missing < <(apt_missing "${PACKAGES[@]}")
  if ((${#missing[@]} == 0)); then
    say "all installed"
    return
  fi
  say "missing: ${missing[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
    --no-install-recommends "${missing[@]}"
  mapfile -t missing < <(apt_missing "${PACKAGES[@]}")
  ((${#missing[@]} == 0)) || die "still missing after apt-get install: ${missing[*]}"
  say "installed"
}

# ---------------------------------------------------------------- Go

# required_go ROOT: the `go` line of go.work, as X.Y.Z.
required_go() {
  local v=${BOXLAB_GO_VERSION:-}
  if [[ -z $v ]]; then
    v=$(awk '$1 == "go" { print $2; exit }' "$1/go.work")
    [[ -n $v ]] || die "$1/go.work has no 'go' line"
  fi
  v=${v#go}
  # "go 1.26" in go.work means the release 1.26.0.
  if [[ $v =~ ^[0-9]+\.[0-9]+$ ]]; then v=$v.0; fi
  [[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "unsupported Go version '$v' (want X.Y.Z)"
  echo "$v"
}

# go_version BINARY: its version as X.Y.Z, or X.Y.-1 for a pre-release
# (go1.26rc1 is older than go1.26.0); nothing if it cannot say.
# GOTOOLCHAIN=local and cd /: inside the repository an older go would obey
# go.work, fetch the newer toolchain and report that one instead of itself.
go_version() {
  local out
  out=$(cd / && GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null) || return 0
  # GOVERSION may carry a suffix (go1.26.0 X:nodwarf5); keep the first word.
  out=${out%% *}
  if [[ $out =~ ^go([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
    echo "${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
  elif [[ $out =~ ^go([0-9]+)\.([0-9]+)$ ]]; then
    echo "${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.0" # go1.20 and older named X.Y
  elif [[ $out =~ ^go([0-9]+)\.([0-9]+)(rc|beta)[0-9]+$ ]]; then
    echo "${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.-1"
  fi
}

# version_ge A B: A >= B, comparing each dotted field as a number.
version_ge() {
  local -a a b
  local i x y
  IFS=. read -r -a a <<<"$1"
  IFS=. read -r -a b <<<"$2"
  for i in 0 1 2; do
    x=${a[i]:-0} y=${b[i]:-0}
    ((x > y)) && return 0
    ((x < y)) && return 1
  done
  return 0
}

go_arch() {
  local arch
  arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
  case $arch in
  amd64 | x86_64) echo amd64 ;;
  arm64 | aarch64) echo arm64 ;;
  *) die "unsupported architecture '$arch' (boxlab runs on amd64 and arm64)" ;;
  esac
}

# go_sha256 FILE: the published SHA-256 of a Go release file.
go_sha256() {
  local sum
  sum=$(curl -fsSL --retry 3 "$GO_SUMS/$1.sha256" 2>/dev/null | awk '{ print $1; exit }') || true
  if [[ ! $sum =~ ^[0-9a-f]{64}$ ]] && command -v python3 >/dev/null; then
    sum=$(curl -fsSL --retry 3 "$GO_DL/?mode=json&include=all" 2>/dev/null |
      python3 -c 'import json, sys
for rel in json.load(sys.stdin):
    for f in rel["files"]:
        if f["filename"] == sys.argv[1]:
            print(f["sha256"]); sys.exit(0)' "$1") || true
  fi
  [[ $sum =~ ^[0-9a-f]{64}$ ]] || return 1
  echo "$sum"
}

install_go() {
  local want=$1 have='' found='' bin v origin=go.work
  [[ -n ${BOXLAB_GO_VERSION:-} ]] && origin=BOXLAB_GO_VERSION
  step "Go >= $want (required by $origin)"
  # /usr/local/go first: that is what profile.d and sudo will put on PATH.
  local -a candidates=("$GO_BIN/go")
  bin=$(command -v go || true)
  [[ -n $bin && $bin != "$GO_BIN/go" ]] && candidates+=("$bin")
  for bin in "${candidates[@]}"; do
    [[ -n $bin && -x $bin ]] || continue
    v=$(go_version "$bin")
    if [[ -n $v ]] && version_ge "$v" "$want"; then
      say "found $bin: $v"
      have=$v found=$bin
      break
    fi
    say "found $bin: ${v:-unknown version}, older than $want"
  done
  if [[ -n $found ]]; then
    say "Go $have is new enough; not downloading"
    if [[ $found != "$GO_BIN/go" ]]; then
      say "note: it is $found, not $GO_BIN/go; it stays as it is"
    fi
    return
  fi
  if [[ ${BOXLAB_GO_NO_DOWNLOAD:-} == 1 ]]; then
    die "Go >= $want is not installed and BOXLAB_GO_NO_DOWNLOAD=1 forbids downloading it"
  fi

  local arch file sum
  arch=$(go_arch)
  file=go$want.linux-$arch.tar.gz
  local tmpdir
  tmpdir=$(mktemp -d /usr/local/.boxlab-go.XXXXXX) # same filesystem: the swap below is a rename
  TEMPS+=("$tmpdir")
  say "downloading $GO_DL/$file"
  curl -fSL --retry 3 --progress-bar -o "$tmpdir/$file" "$GO_DL/$file" ||
    die "cannot download $GO_DL/$file (is the VM online? does Go $want exist?)"
  sum=$(go_sha256 "$file") || die "cannot fetch the SHA-256 of $file from $GO_SUMS or $GO_DL"
  say "checking sha256 $sum"
  (cd "$tmpdir" && printf '%s  %s\n' "$sum" "$file" | sha256sum -c --quiet -) ||
    die "$file does not match its published SHA-256"
  tar -C "$tmpdir" --no-same-owner -xzf "$tmpdir/$file"
  v=$(go_version "$tmpdir/go/bin/go")
  [[ $v == "$want" ]] || die "the downloaded Go reports '${v:-nothing}', expected $want"
  if [[ -e $GO_PREFIX ]]; then
    say "replacing the old $GO_PREFIX"
    mv "$GO_PREFIX" "$tmpdir/go.old"
  fi
  mv "$tmpdir/go" "$GO_PREFIX"
  go_installed=1
  say "installed Go $want in $GO_PREFIX"
}

# ---------------------------------------------------------------- PATH

# install_file SRC DEST MODE: put SRC at DEST unless DEST already holds it.
# SRC is a temporary file on DEST's filesystem, so the move is atomic.
install_file() {
  if [[ -f $2 ]] && cmp -s "$1" "$2" &&
    [[ $(stat -c '%a %U %G' "$2") == "${3#0} root root" ]]; then
    rm -f -- "$1"
    say "$2 is up to date"
    return
  fi
  chmod "$3" "$1"
  chown root:root "$1"
  mv -f "$1" "$2"
  say "wrote $2"
}

write_profile() {
  step "PATH for login shells: $PROFILE_FILE"
  local tmp
  tmp=$(mktemp /etc/.boxlab-go.profile.XXXXXX)
  TEMPS+=("$tmp")
  cat >"$tmp" <<EOF
# Written by boxlab's vagrant/provision.sh: the Go toolchain the workshop uses.
case ":\${PATH}:" in
*:$GO_BIN:*) ;;
*) PATH="$GO_BIN:\${PATH}"; export PATH ;;
esac
EOF
  sh -n "$tmp" || die "generated $PROFILE_FILE does not parse"
  install_file "$tmp" "$PROFILE_FILE" 0644
}

# sudo resets PATH to secure_path, so `sudo go` and `sudo ./lab.sh` would not
# find Go. Extend secure_path (keeping whatever it already is) in a drop-in.
current_secure_path() {
  local line
  line=$(grep -hE '^[[:space:]]*Defaults[[:space:]]+secure_path[[:space:]]*=' /etc/sudoers 2>/dev/null | tail -n 1) || true
  line=${line#*=}
  line=${line//\"/}
  line=${line//[[:space:]]/}
  echo "${line:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin}"
}

write_sudoers() {
  step "PATH for sudo: $SUDOERS_FILE"
  if ! command -v visudo >/dev/null; then
    warn "visudo not found (is sudo installed?); not touching sudoers"
    return
  fi
  if ! grep -qE '^[@#]includedir[[:space:]]+/etc/sudoers.d' /etc/sudoers 2>/dev/null; then
    warn "/etc/sudoers does not include /etc/sudoers.d; use 'sudo env PATH=\"\$PATH\" ...' instead"
    return
  fi
  if ! visudo -c >/dev/null 2>&1; then
    warn "sudoers is already invalid ('visudo -c' says why); not touching it"
    return
  fi
  local path tmp
  path=$(current_secure_path)
  case ":$path:" in
  *:"$GO_BIN":*) ;;
  *) path=$path:$GO_BIN ;;
  esac
  # Written outside /etc/sudoers.d and checked before it goes in: a broken
  # file there would lock everyone out of sudo.
  tmp=$(mktemp /etc/.boxlab-go.sudoers.XXXXXX)
  TEMPS+=("$tmp")
  cat >"$tmp" <<EOF
# Written by boxlab's vagrant/provision.sh: let 'sudo' find $GO_BIN.
Defaults secure_path="$path"
EOF
  chmod 0440 "$tmp"
  if ! visudo -cf "$tmp" >/dev/null; then
    die "generated sudoers drop-in does not validate (visudo -cf); nothing changed"
  fi
  install_file "$tmp" "$SUDOERS_FILE" 0440
  if ! visudo -c >/dev/null 2>&1; then
    # Should not happen after the check above, but never leave sudo broken.
    rm -f "$SUDOERS_FILE"
    die "sudoers no longer validated with $SUDOERS_FILE; removed it again"
  fi
  say "sudo secure_path: $path"
}

# ---------------------------------------------------------------- git

# The synced repository belongs to the vagrant user; git refuses to work in
# it as root ("dubious ownership"), and so does `sudo go build`, which asks
# git for the commit to stamp into the binary.
trust_repo() {
  local root=$1 owner
  step "git: let root use $root"
  owner=$(stat -c %U "$root")
  if [[ $owner == root ]]; then
    say "owned by root; nothing to do"
    return
  fi
  if git config --system --get-all safe.directory 2>/dev/null | grep -qxF "$root"; then
    say "already in safe.directory (/etc/gitconfig)"
    return
  fi
  git config --system --add safe.directory "$root"
  say "added to safe.directory in /etc/gitconfig (the repository belongs to $owner)"
}

# ---------------------------------------------------------------- cgroups

check_cgroups() {
  step "cgroups"
  local fstype
  fstype=$(stat -fc %T /sys/fs/cgroup 2>/dev/null || echo missing)
  if [[ $fstype != cgroup2fs ]]; then
    warn "/sys/fs/cgroup is '$fstype', not cgroup v2 (cgroup2fs)."
    if [[ $fstype == tmpfs && -d /sys/fs/cgroup/unified ]]; then
      say "This is the hybrid layout: v1 controllers, v2 only at /sys/fs/cgroup/unified."
    fi
    say "boxlab handles cgroup v1 too, but the workshop text follows v2. To switch:"
    say "  add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub,"
    say "  run 'update-grub' and reboot."
    return
  fi
  say "cgroup v2 is mounted at /sys/fs/cgroup"

  local avail enabled c
  avail=$(</sys/fs/cgroup/cgroup.controllers)
  enabled=$(</sys/fs/cgroup/cgroup.subtree_control)
  say "root cgroup.controllers:     ${avail:-(none)}"
  say "root cgroup.subtree_control: ${enabled:-(none)}"
  avail=" $avail " enabled=" $enabled "
  for c in "${CONTROLLERS[@]}"; do
    if [[ $enabled == *" $c "* ]]; then
      say "$c: delegated to child cgroups"
    elif [[ $avail != *" $c "* ]]; then
      warn "$c: not available (kernel built without it, or it is bound to a v1 hierarchy)"
    elif echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
      say "$c: enabled in the root cgroup.subtree_control"
    else
      warn "$c: cannot enable it in /sys/fs/cgroup/cgroup.subtree_control; boxlab will try again when it runs"
    fi
  done
}

# ---------------------------------------------------------------- user namespaces

readonly USERNS_SYSCTL=/proc/sys/kernel/apparmor_restrict_unprivileged_userns
readonly USERNS_CONF=/etc/sysctl.d/60-boxlab-userns.conf

# Ubuntu 24.04's AppArmor stops unprivileged users from creating user
# namespaces unless a profile allows the program. Stage 2 teaches the
# rootless container, which is exactly that, so the lab VM turns the
# restriction off, in a file of its own that survives a reboot.
relax_userns() {
  step "user namespaces"
  if [[ ! -e $USERNS_SYSCTL ]]; then
    say "no kernel.apparmor_restrict_unprivileged_userns here; nothing to do"
    return
  fi
  if [[ ${BOXLAB_LAB_VM:-} != 1 ]]; then
    if [[ $(<"$USERNS_SYSCTL") == 1 ]]; then
      warn "kernel.apparmor_restrict_unprivileged_userns=1: stage 2's rootless test (TestRootless) will skip."
      say "This is not the lab VM, so it is left as it is. To lift it until the next boot:"
      say "  sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
    else
      say "kernel.apparmor_restrict_unprivileged_userns=0: rootless containers allowed"
    fi
    return
  fi
  local want="kernel.apparmor_restrict_unprivileged_userns = 0"
  if [[ -f $USERNS_CONF && $(<"$USERNS_CONF") == *"$want"* && $(<"$USERNS_SYSCTL") == 0 ]]; then
    say "already off ($USERNS_CONF)"
    return
  fi
  printf '# boxlab (vagrant/provision.sh): this lab VM lets unprivileged users make\n# user namespaces, for stage 2'"'"'s rootless container.\n%s\n' "$want" >"$USERNS_CONF"
  sysctl -q -p "$USERNS_CONF"
  say "set to 0, now and at every boot ($USERNS_CONF): the lab VM is throwaway"
}

# ---------------------------------------------------------------- main

main() {
  [[ $(id -u) == 0 ]] || die "run me as root: sudo $0"
  local root want shown
  root=$(find_root)
  printf 'boxlab provisioning: repository %s, %s\n' "$root" "$(uname -srm)"

  install_packages
  want=$(required_go "$root")
  install_go "$want"
  write_profile
  write_sudoers
  trust_repo "$root"
  check_cgroups
  relax_userns

  shown=$root
  # The student reads this as the vagrant user: print ~, not /home/vagrant.
  # shellcheck disable=SC2088
  if [[ $root == /home/vagrant/boxlab ]]; then shown='~/boxlab'; fi
  cat <<EOF

==> Ready.${go_installed:+ Shells opened before now lack Go on PATH: log in again.} Next:

    cd $shown && sudo ./lab.sh tour
    sudo ./lab.sh test

EOF
}

main "$@"

package seccomp

import (
	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Docker is docker's default profile (github.com/moby/profiles/seccomp,
// the data behind `docker run` without --security-opt seccomp=...) for a
// container with these capabilities: the profile grants some calls only
// to a bounding set with a capability (unshare, mount, setns with
// CAP_SYS_ADMIN; reboot with CAP_SYS_BOOT; ...) and a rule or two only
// from a kernel version (4.8, older than any this runtime runs on). The
// default action is SCMP_ACT_ERRNO with EPERM: a call not listed fails
// as one without the capability does, and programs handle that.
func Docker(caps *specs.LinuxCapabilities) (*specs.LinuxSeccomp, error) {
	if caps == nil {
		caps = &specs.LinuxCapabilities{}
	}
	return mobyseccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{Capabilities: caps}})
}

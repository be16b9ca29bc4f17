package vm

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMetaDepends(t *testing.T) {
	// apt-cache show --no-all-versions linux-image-amd64, Debian 12.
	show := `Package: linux-image-amd64
Source: linux-signed-amd64 (6.1.192+2)
Version: 6.1.192-2
Installed-Size: 14
Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)
Description: Linux for 64-bit PCs (meta-package)
`
	kp, err := ParseMetaDepends(show)
	require.NoError(t, err)
	assert.Equal(t, KernelPackage{Name: "linux-image-6.1.0-56-amd64", Version: "6.1.192-2"}, kp)

	// Ubuntu-style: several dependencies, the kernel not first, no version.
	kp, err = ParseMetaDepends("Package: x\nDepends: linux-firmware, linux-image-6.8.0-45-generic | linux-image-unsigned-6.8.0-45-generic, linux-modules-extra\n")
	require.NoError(t, err)
	assert.Equal(t, KernelPackage{Name: "linux-image-6.8.0-45-generic"}, kp)

	_, err = ParseMetaDepends("Package: linux-image-amd64\nDepends: something-else\n")
	assert.Error(t, err)
	_, err = ParseMetaDepends("")
	assert.Error(t, err)
}

func TestDebPaths(t *testing.T) {
	m := debVmlinuz.FindStringSubmatch("boot/vmlinuz-6.1.0-56-amd64")
	require.NotNil(t, m)
	assert.Equal(t, "6.1.0-56-amd64", m[1])
	assert.Nil(t, debVmlinuz.FindStringSubmatch("boot/config-6.1.0-56-amd64"))

	for name, rel := range map[string]string{
		"lib/modules/6.1.0-56-amd64/kernel/fs/overlayfs/overlay.ko":   "kernel/fs/overlayfs/overlay.ko",
		"usr/lib/modules/6.12.9-amd64/kernel/net/bridge/bridge.ko.xz": "kernel/net/bridge/bridge.ko.xz", // Debian 13
		"./lib/modules/6.1.0-56-amd64/modules.builtin":                "modules.builtin",
	} {
		m := debModules.FindStringSubmatch(name)
		require.NotNil(t, m, name)
		assert.Equal(t, rel, m[2], name)
	}
	assert.True(t, isModuleFile("kernel/a.ko"))
	assert.True(t, isModuleFile("kernel/a.ko.xz"))
	assert.True(t, isModuleFile("kernel/a.ko.zst"))
	assert.False(t, isModuleFile("modules.order"))
}

func TestMetaPackage(t *testing.T) {
	p, err := MetaPackage("amd64")
	require.NoError(t, err)
	assert.Equal(t, "linux-image-amd64", p)
	_, err = MetaPackage("arm64")
	assert.ErrorContains(t, err, "amd64 hosts only")
}

func TestOpenKernelNeedsComplete(t *testing.T) {
	_, err := OpenKernel(t.TempDir())
	assert.ErrorContains(t, err, "not unpacked")
}

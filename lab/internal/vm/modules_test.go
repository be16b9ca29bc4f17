package vm

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An excerpt of a real modules.dep (Debian 6.1), in depmod's transitive
// form, plus two made-up modules for the cycle.
const modulesDep = `kernel/fs/overlayfs/overlay.ko:
kernel/net/llc/llc.ko:
kernel/net/802/stp.ko: kernel/net/llc/llc.ko
kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko
kernel/drivers/net/veth.ko:
kernel/lib/libcrc32c.ko:
kernel/crypto/crc32c_generic.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/net/netfilter/nfnetlink.ko:
kernel/net/netfilter/nf_tables.ko: kernel/lib/libcrc32c.ko kernel/net/netfilter/nfnetlink.ko
kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko:
kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko:
kernel/net/netfilter/nf_conntrack.ko: kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/nf_nat.ko: kernel/net/netfilter/nf_conntrack.ko kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/nft_masq.ko: kernel/net/netfilter/nf_tables.ko kernel/net/netfilter/nf_nat.ko kernel/net/netfilter/nf_conntrack.ko kernel/net/netfilter/nfnetlink.ko kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko
extra/a-1.ko: extra/b.ko
extra/b.ko: extra/a-1.ko
`

func testIndex(t *testing.T) ModIndex {
	t.Helper()
	deps, err := ParseModulesDep(strings.NewReader(modulesDep))
	require.NoError(t, err)
	builtin, err := ParseBuiltin(strings.NewReader("kernel/fs/ext4/ext4.ko\nkernel/net/ipv4/tcp_cubic.ko\n"))
	require.NoError(t, err)
	aliases, err := ParseModulesAlias(strings.NewReader(
		"# Aliases extracted from modules themselves.\n" +
			"alias crypto-crc32c crc32c_intel\nalias crc32c crc32c_intel\n" +
			"alias crypto-crc32c crc32c_generic\nalias crc32c crc32c_generic\n" +
			"alias pci:v00001AF4d00001000sv*sd*bc*sc*i* virtio_net\n"))
	require.NoError(t, err)
	soft, err := ParseModulesSoftdep(strings.NewReader(
		"# Soft dependencies extracted from modules themselves.\nsoftdep libcrc32c pre: crc32c\nsoftdep veth post: nothing-here\n"))
	require.NoError(t, err)
	return ModIndex{Deps: deps, Builtin: builtin, Aliases: aliases, SoftPre: soft}
}

func TestParseModulesDep(t *testing.T) {
	deps := testIndex(t).Deps
	assert.Len(t, deps, 17)
	assert.Equal(t, ModEntry{Path: "kernel/net/bridge/bridge.ko",
		Deps: []string{"kernel/net/802/stp.ko", "kernel/net/llc/llc.ko"}}, deps["bridge"])
	assert.Equal(t, "kernel/arch/x86/crypto/crc32c-intel.ko", deps["crc32c_intel"].Path, "names use underscores")

	_, err := ParseModulesDep(strings.NewReader("no colon here\n"))
	assert.ErrorContains(t, err, "line 1")
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/fs/overlayfs/overlay.ko":         "overlay",
		"kernel/arch/x86/crypto/crc32c-intel.ko": "crc32c_intel",
		"kernel/net/bridge/bridge.ko.xz":         "bridge",
		"nft_masq.ko.zst":                        "nft_masq",
		"nf-nat":                                 "nf_nat",
	} {
		assert.Equal(t, want, ModuleName(in), in)
	}
}

func TestResolveOrder(t *testing.T) {
	load, inKernel, err := testIndex(t).Resolve([]string{"overlay", "bridge", "veth", "nft_masq", "nf-nat", "ext4"})
	require.NoError(t, err)
	assert.Equal(t, []string{"ext4"}, inKernel)
	// Every module after all of its dependencies, each once; libcrc32c's
	// soft dependency (the alias crc32c) before it, as the portable module.
	pos := map[string]int{}
	for i, f := range load {
		_, dup := pos[f]
		assert.False(t, dup, "%s loaded twice", f)
		pos[f] = i
	}
	assert.Len(t, load, 14)
	before := func(a, b string) {
		t.Helper()
		assert.Less(t, pos[a], pos[b], "%s before %s", a, b)
	}
	before("kernel/net/llc/llc.ko", "kernel/net/802/stp.ko")
	before("kernel/net/802/stp.ko", "kernel/net/bridge/bridge.ko")
	before("kernel/crypto/crc32c_generic.ko", "kernel/lib/libcrc32c.ko")
	before("kernel/lib/libcrc32c.ko", "kernel/net/netfilter/nf_tables.ko")
	before("kernel/net/netfilter/nfnetlink.ko", "kernel/net/netfilter/nf_tables.ko")
	before("kernel/net/netfilter/nf_conntrack.ko", "kernel/net/netfilter/nf_nat.ko")
	before("kernel/net/netfilter/nf_nat.ko", "kernel/net/netfilter/nft_masq.ko")
	assert.NotContains(t, load, "kernel/arch/x86/crypto/crc32c-intel.ko", "one module per alias: the generic one")
}

func TestResolveErrors(t *testing.T) {
	ix := testIndex(t)
	_, _, err := ix.Resolve([]string{"overlay", "no_such_module", "neither"})
	assert.ErrorContains(t, err, "not found")
	assert.ErrorContains(t, err, "no_such_module, neither")

	_, _, err = ix.Resolve([]string{"a-1"})
	assert.ErrorContains(t, err, "cycle: a_1 -> b -> a_1")

	// A soft dependency nobody provides is left out, not an error.
	ix.SoftPre["veth"] = []string{"no-such-alias"}
	load, _, err := ix.Resolve([]string{"veth"})
	require.NoError(t, err)
	assert.Equal(t, []string{"kernel/drivers/net/veth.ko"}, load)
}

// elfWithModinfo builds the smallest ELF64 relocatable object that
// debug/elf reads: a header, a .modinfo section and the section names.
func elfWithModinfo(modinfo string) []byte {
	shstr := "\x00.modinfo\x00.shstrtab\x00"
	const ehsize, shentsize = 64, 64
	infoOff := ehsize
	strOff := infoOff + len(modinfo)
	shOff := (strOff + len(shstr) + 7) &^ 7
	var b bytes.Buffer
	le := binary.LittleEndian
	ident := []byte{0x7f, 'E', 'L', 'F', 2 /*64-bit*/, 1 /*LE*/, 1 /*version*/, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b.Write(ident)
	binary.Write(&b, le, uint16(1))  // ET_REL
	binary.Write(&b, le, uint16(62)) // EM_X86_64
	binary.Write(&b, le, uint32(1))  // version
	binary.Write(&b, le, uint64(0))  // entry
	binary.Write(&b, le, uint64(0))  // phoff
	binary.Write(&b, le, uint64(shOff))
	binary.Write(&b, le, uint32(0))         // flags
	binary.Write(&b, le, uint16(ehsize))    // ehsize
	binary.Write(&b, le, uint16(0))         // phentsize
	binary.Write(&b, le, uint16(0))         // phnum
	binary.Write(&b, le, uint16(shentsize)) // shentsize
	binary.Write(&b, le, uint16(3))         // shnum
	binary.Write(&b, le, uint16(2))         // shstrndx
	b.WriteString(modinfo)
	b.WriteString(shstr)
	for b.Len() < shOff {
		b.WriteByte(0)
	}
	section := func(name, typ uint32, off, size int) {
		binary.Write(&b, le, name)
		binary.Write(&b, le, typ)
		binary.Write(&b, le, uint64(0)) // flags
		binary.Write(&b, le, uint64(0)) // addr
		binary.Write(&b, le, uint64(off))
		binary.Write(&b, le, uint64(size))
		binary.Write(&b, le, uint32(0)) // link
		binary.Write(&b, le, uint32(0)) // info
		binary.Write(&b, le, uint64(1)) // addralign
		binary.Write(&b, le, uint64(0)) // entsize
	}
	section(0, 0, 0, 0)                  // SHN_UNDEF
	section(1, 1, infoOff, len(modinfo)) // .modinfo, PROGBITS
	section(10, 3, strOff, len(shstr))   // .shstrtab, STRTAB
	return b.Bytes()
}

func TestReadModInfo(t *testing.T) {
	data := elfWithModinfo("license=GPL\x00softdep=pre: crc32c\x00alias=crypto-x\x00alias=x\x00" +
		"depends=nf_tables,nf-nat\x00name=nft_masq\x00vermagic=6.1.0 SMP mod_unload\x00")
	mi, err := ReadModInfo("kernel/net/netfilter/nft_masq.ko", data)
	require.NoError(t, err)
	assert.Equal(t, ModInfo{Path: "kernel/net/netfilter/nft_masq.ko", Name: "nft_masq",
		Depends: []string{"nf_tables", "nf_nat"}, Aliases: []string{"crypto-x", "x"}, Softdep: "pre: crc32c"}, mi)

	mi, err = ReadModInfo("kernel/x/empty-deps.ko", elfWithModinfo("depends=\x00"))
	require.NoError(t, err)
	assert.Equal(t, "empty_deps", mi.Name, "the file name when .modinfo has no name")
	assert.Empty(t, mi.Depends)

	_, err = ReadModInfo("kernel/x/not-elf.ko", []byte("not an ELF file at all, not even close"))
	assert.Error(t, err)
}

// GenerateModulesDep writes what depmod writes: each module with all its
// dependencies, in an order that loads from the end of the list.
func TestGenerateModulesDep(t *testing.T) {
	mods := []ModInfo{
		{Path: "kernel/net/netfilter/nft_masq.ko", Name: "nft_masq", Depends: []string{"nf_tables", "nf_nat"}},
		{Path: "kernel/net/netfilter/nf_nat.ko", Name: "nf_nat", Depends: []string{"nf_conntrack"}},
		{Path: "kernel/net/netfilter/nf_conntrack.ko", Name: "nf_conntrack"},
		{Path: "kernel/net/netfilter/nf_tables.ko", Name: "nf_tables", Depends: []string{"nfnetlink"}},
		{Path: "kernel/net/netfilter/nfnetlink.ko", Name: "nfnetlink", Aliases: []string{"net-pf-16-proto-12"}},
		{Path: "kernel/lib/libcrc32c.ko", Name: "libcrc32c", Softdep: "pre: crc32c"},
	}
	var b bytes.Buffer
	require.NoError(t, GenerateModulesDep(&b, mods))
	assert.Equal(t, `kernel/lib/libcrc32c.ko:
kernel/net/netfilter/nf_conntrack.ko:
kernel/net/netfilter/nf_nat.ko: kernel/net/netfilter/nf_conntrack.ko
kernel/net/netfilter/nf_tables.ko: kernel/net/netfilter/nfnetlink.ko
kernel/net/netfilter/nfnetlink.ko:
kernel/net/netfilter/nft_masq.ko: kernel/net/netfilter/nf_nat.ko kernel/net/netfilter/nf_conntrack.ko kernel/net/netfilter/nf_tables.ko kernel/net/netfilter/nfnetlink.ko
`, b.String())

	// And it reads back to the same load order.
	deps, err := ParseModulesDep(&b)
	require.NoError(t, err)
	load, _, err := ModIndex{Deps: deps}.Resolve([]string{"nft_masq"})
	require.NoError(t, err)
	assert.Equal(t, "kernel/net/netfilter/nft_masq.ko", load[len(load)-1])
	assert.Len(t, load, 5)

	b.Reset()
	require.NoError(t, GenerateModulesAlias(&b, mods))
	assert.Equal(t, "alias net-pf-16-proto-12 nfnetlink\n", b.String())
	b.Reset()
	require.NoError(t, GenerateModulesSoftdep(&b, mods))
	assert.Equal(t, "softdep libcrc32c pre: crc32c\n", b.String())

	err = GenerateModulesDep(&b, []ModInfo{{Path: "a.ko", Name: "a", Depends: []string{"missing"}}})
	assert.ErrorContains(t, err, "a.ko depends on missing")
}

func TestParseModulesSoftdep(t *testing.T) {
	soft, err := ParseModulesSoftdep(strings.NewReader(
		"softdep nf-nat pre: a b post: c\nsoftdep x post: y pre: z\nalias foo bar\nsoftdep\n"))
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"nf_nat": {"a", "b"}, "x": {"z"}}, soft)
}

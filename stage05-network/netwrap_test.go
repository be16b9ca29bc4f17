package main

// The whole test binary runs in a network namespace of its own. The tests
// carried forward from the earlier stages run the stage binary as they
// always did, and its default is now --network bridge: left in the real
// host's namespace, each of those runs would add a bridge, a veth pair and
// an nftables table to the real host for the length of a test. So, before
// any test (and before labtest.Main builds the binary), the test binary
// re-executes itself as a child in a new network namespace (clone(2)
// CLONE_NEWNET), passes the real host's namespace on by path for the
// leftover checks, and leaves with the child's exit code. Everything any
// test starts is born in that namespace or in the ones the tests make.

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/vishvananda/netlink"
)

// realNetnsEnv, in the re-executed test binary, names the real host's
// network namespace: /proc/PID/ns/net of the waiting parent.
const realNetnsEnv = "BOXLAB_TEST_REAL_NETNS"

func init() {
	if os.Geteuid() != 0 {
		return // nothing runs the binary with a network then: no root
	}
	if os.Getenv(realNetnsEnv) != "" {
		inTestNamespace()
		return
	}
	os.Exit(reexecInNewNetns())
}

// reexecInNewNetns runs this test binary again, with the same arguments,
// in a new network namespace, and returns its exit code.
func reexecInNewNetns() int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "netwrap:", err)
		return 1
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=/proc/%d/ns/net", realNetnsEnv, os.Getpid()))
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	// The child gets the terminal's signals itself (same process group);
	// go test's own kill and an ordinary kill of this pid are passed on.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "netwrap: re-exec the tests in a new network namespace:", err)
		return 1
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if err != nil && cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "netwrap:", err)
		return 1
	}
	return cmd.ProcessState.ExitCode()
}

// inTestNamespace brings up lo in the test binary's namespace, as a host has.
func inTestNamespace() {
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "netwrap: lo up:", err)
		os.Exit(1)
	}
}

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// reset rewrites the leases only while it holds stage05's network lock,
// taken after a run that held it lets go.
func TestResetTakesNetworkLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "network")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	file := filepath.Join(dir, "leases.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"10.199.0.2": "a", "10.199.0.3": "b"}`), 0o644))

	held, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	require.NoError(t, err)
	require.NoError(t, unix.Flock(int(held.Fd()), unix.LOCK_EX))
	done := make(chan error)
	go func() { done <- withNetworkLock(file, func() error { return dropLease(file, "10.199.0.2") }) }()
	require.NoError(t, held.Close()) // the run is done: reset may go on
	require.NoError(t, <-done)
	leases, err := readLeases(file)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"10.199.0.3": "b"}, leases)

	// No network directory at all: nothing to lock, nothing to drop.
	assert.NoError(t, withNetworkLock(filepath.Join(t.TempDir(), "network", "leases.json"), func() error { return nil }))
}

package main

import (
	"errors"
	"fmt"
	"os"
)

// handshakeFd is where the child finds the read end of the pipe: the first
// of exec.Cmd's ExtraFiles, after stdin, stdout and stderr.
const handshakeFd = 3

// The handshake holds the child back between clone and its setup. The
// parent does its work on the child from outside (later stages put it into
// its cgroup and give it a network here), then writes one byte: go. If the
// parent fails instead, it closes the pipe without writing, and the child
// leaves before it has touched anything. A pipe, not a sleep: the child
// waits exactly as long as the parent needs.

// newHandshake makes the pipe. Both ends are close-on-exec: the read end
// reaches the child only through ExtraFiles, and neither end leaks into the
// user's command.
func newHandshake() (r, w *os.File, err error) {
	r, w, err = os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("handshake pipe: %w", err)
	}
	explain(fmt.Sprintf("pipe(): the child gets the read end as fd %d and blocks reading it", handshakeFd), "")
	return r, w, nil
}

// release lets the child go on, and closes the parent's end.
func release(w *os.File) error {
	explain("handshake: write one byte to the pipe: the child may set up its root and exec", "")
	_, err := w.Write([]byte{0})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

// awaitParent blocks the child until the parent writes its byte. End of
// file means the parent gave up (or died): nothing has been set up yet, so
// there is nothing to undo.
func awaitParent() error {
	pipe := os.NewFile(handshakeFd, "handshake")
	defer pipe.Close()
	n, err := pipe.Read(make([]byte, 1))
	if n == 1 {
		return nil
	}
	if err == nil {
		err = errors.New("no byte")
	}
	return fmt.Errorf("handshake: the runtime closed the pipe before the container was ready (%v)", err)
}

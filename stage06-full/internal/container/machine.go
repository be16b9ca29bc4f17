package container

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The statuses of runtime-spec runtime.md ("State"), plus paused: the
// spec leaves it out (pausing is not part of its lifecycle), but runc,
// crun and containerd all report it.
const (
	Creating = specs.StateCreating
	Created  = specs.StateCreated
	Running  = specs.StateRunning
	Stopped  = specs.StateStopped
	Paused   = specs.ContainerState("paused")
)

// Op is a step of the lifecycle: what a verb asks of the container.
type Op string

const (
	OpCreated Op = "create" // init set up, waiting for start (runtime.md step 7)
	OpStart   Op = "start"  // init execs the user's program
	OpPause   Op = "pause"  // freezer cgroup frozen
	OpResume  Op = "resume" // and thawed
	OpStop    Op = "stop"   // init exited, or was never started
)

// transitions is the state machine, the whole of it: from each status,
// the steps allowed and where they lead. runtime.md's lifecycle is
// creating → created → running → stopped; pause and resume go between
// running and paused. A created container can stop without running (its
// init killed, or `delete --force`), and so can one whose create failed
// half-way, so that delete can clean up what it left. A paused one
// cannot stop until resumed: its processes are frozen and cannot even
// die (cgroup v1 freezer; v2's cgroup.freeze lets SIGKILL through, but
// the runtime thaws first on both, as runc does).
var transitions = map[specs.ContainerState]map[Op]specs.ContainerState{
	Creating: {OpCreated: Created, OpStop: Stopped},
	Created:  {OpStart: Running, OpStop: Stopped},
	Running:  {OpPause: Paused, OpStop: Stopped},
	Paused:   {OpResume: Running},
	Stopped:  {},
}

// TransitionError is a step refused from a status.
type TransitionError struct {
	ID   string
	From specs.ContainerState
	Op   Op
}

// Error says it the way runc and docker do ("cannot start a container
// that has stopped"), and, where there is one, what to do instead.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("container %s: %s", e.ID, refusal(e.From, e.Op))
}

func refusal(from specs.ContainerState, op Op) string {
	switch op {
	case OpStart:
		switch from {
		case Stopped:
			return "cannot start a container that has stopped: delete it and create it again"
		case Running:
			return "cannot start an already running container"
		case Paused:
			return "cannot start a paused container: resume it"
		case Creating:
			return "cannot start a container that is still being created: wait for create to finish"
		}
	case OpPause:
		if from == Paused {
			return "container is already paused"
		}
		return fmt.Sprintf("cannot pause a container that is not running (it is %s)", from)
	case OpResume:
		return fmt.Sprintf("cannot resume a container that is not paused (it is %s)", from)
	case OpStop:
		switch from {
		case Paused:
			return "cannot stop a paused container: resume it first"
		case Stopped:
			return "container has already stopped"
		}
	case OpCreated:
		return fmt.Sprintf("cannot finish creating a container that is %s", from)
	}
	return fmt.Sprintf("cannot %s a container that is %s", op, from)
}

// Next is where op leads from status from, or a *TransitionError.
func Next(id string, from specs.ContainerState, op Op) (specs.ContainerState, error) {
	to, ok := transitions[from][op]
	if !ok {
		return from, &TransitionError{ID: id, From: from, Op: op}
	}
	return to, nil
}

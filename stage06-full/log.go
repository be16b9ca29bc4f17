package main

// The runtime's log, as runc(8) has it: --log FILE (stderr without it),
// --log-format text|json, --debug. containerd passes --log and
// --log-format json to every call and, when one fails, reports the "msg"
// of the last line whose "level" is "error", so the levels are written
// in lowercase as logrus (runc's logger) writes them, not slog's
// "ERROR".

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
)

type logger struct {
	*slog.Logger
	toStderr bool
}

func newLogger(g *globals, stderr io.Writer) (*logger, func(), error) {
	w, closeFn := stderr, func() {}
	if g.logFile != "" {
		f, err := os.OpenFile(g.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_CLOEXEC, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("--log: %w", err)
		}
		w, closeFn = f, func() { f.Close() }
	}
	level := slog.LevelInfo
	if g.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.LevelKey && len(groups) == 0 {
				a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
			}
			return a
		},
	}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if g.logFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return &logger{slog.New(h), g.logFile == ""}, closeFn, nil
}

// toFile logs a failure in the log file. Without --log the log is
// stderr, which already has the message.
func (l *logger) toFile(err error) {
	if !l.toStderr {
		l.Error(err.Error())
	}
}

package cli

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// kv is one log field.
type kv struct{ k, v string }

// logger writes NNCP-style recfile records to the log and a short line to
// the console. TODO(logrec): route through internal/logrec once it lands.
type logger struct {
	x   *ctx
	mu  sync.Mutex
	f   *os.File
	own bool
}

func newLogger(x *ctx, dest string) (*logger, error) {
	l := &logger{x: x}
	if dest == "" {
		return l, nil
	}
	if strings.HasPrefix(dest, "FD:") {
		var fd int
		if _, err := fmt.Sscanf(dest, "FD:%d", &fd); err != nil {
			return nil, fmt.Errorf("log %q: bad FD: form", dest)
		}
		l.f = os.NewFile(uintptr(fd), dest)
		return l, nil
	}
	f, err := os.OpenFile(dest, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o666)
	if err != nil {
		return nil, fmt.Errorf("opening log: %w", err)
	}
	l.f, l.own = f, true
	return l, nil
}

func (l *logger) Close() {
	if l.own && l.f != nil {
		l.f.Close()
	}
}

func (l *logger) write(who string, fields []kv, msg string, isErr bool, errText string) {
	now := time.Now().UTC()
	var b strings.Builder
	b.WriteString("\nWhen: " + now.Format(time.RFC3339Nano) + "\nWho: " + who + "\n")
	for _, f := range fields {
		writeField(&b, f.k, f.v)
	}
	if isErr {
		writeField(&b, "Err", errText)
	}
	writeField(&b, "Msg", msg)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.WriteString(b.String())
	}
	if isErr || !l.x.quiet {
		line := msg
		if isErr && errText != "" {
			line += ": " + errText
		}
		fmt.Fprintf(l.x.Stderr, "%s %s\n", now.Format(time.RFC3339), line)
	}
}

func writeField(b *strings.Builder, k, v string) {
	lines := strings.Split(v, "\n")
	b.WriteString(k + ": " + lines[0] + "\n")
	for _, ln := range lines[1:] {
		b.WriteString("+ " + ln + "\n")
	}
}

// info logs a successful event.
func (l *logger) info(who string, fields []kv, msg string) { l.write(who, fields, msg, false, "") }

// fail logs an error event.
func (l *logger) fail(who string, fields []kv, err error, msg string) {
	l.write(who, fields, msg, true, err.Error())
}

// debugf prints a debug line when -debug is on.
func (l *logger) debugf(format string, a ...any) {
	if l.x.debug {
		fmt.Fprintf(l.x.Stderr, "%s DEBUG %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, a...))
	}
}

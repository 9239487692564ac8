package cli

import (
	"fmt"

	"ferry/internal/logrec"
)

// kv is one log field (name, value).
type kv struct{ k, v string }

func fields(f []kv) []logrec.Field {
	out := make([]logrec.Field, len(f))
	for i, x := range f {
		out[i] = logrec.Field{Name: x.k, Value: x.v}
	}
	return out
}

// logger is the command's log: NNCP recfile records in the log file, the
// human line on stderr (errors even under -quiet).
type logger struct {
	l *logrec.Logger
}

func newLogger(x *ctx, dest string) (*logger, error) {
	l, err := logrec.New(dest, x.Stderr, logrec.Options{Quiet: x.quiet, Debug: x.debug})
	if err != nil {
		return nil, err
	}
	return &logger{l: l}, nil
}

// Close closes the log files the logger keeps open.
func (l *logger) Close() { l.l.Close() }

// info logs a successful event.
func (l *logger) info(who string, f []kv, msg string) {
	l.l.Info(logrec.Rec{Who: who, Fields: fields(f), Msg: msg})
}

// fail logs an error event.
func (l *logger) fail(who string, f []kv, err error, msg string) {
	l.l.Error(logrec.Rec{Who: who, Fields: fields(f), Msg: msg}, err)
}

// debugf prints a debug record when -debug is on.
func (l *logger) debugf(format string, a ...any) {
	l.l.Debug(logrec.Rec{Who: "debug", Msg: fmt.Sprintf(format, a...)})
}

package config

import (
	"errors"
	"fmt"
)

var (
	// ErrEncrypted is returned for a config encrypted with nncp-cfgenc
	// (an eblob): ferry cannot decrypt those yet.
	ErrEncrypted = errors.New("encrypted config is not supported yet (decrypt it with nncp-cfgenc -d)")
	// ErrUnknownNode is returned when a name or id matches no neighbour.
	ErrUnknownNode = errors.New("unknown node")
	// ErrMissing is returned for a required field that is absent.
	ErrMissing = errors.New("missing")
)

// Error is a problem with a config: the file, the field and what is wrong
// with it. Every error Parse and Load return is an *Error.
type Error struct {
	Path  string // file or directory the config came from; "" if from memory
	Field string // dotted field path, e.g. "neigh.alice.exchpub"; "" for the whole config
	Err   error
}

func (e *Error) Error() string {
	s := "config"
	if e.Path != "" {
		s += " " + e.Path
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// fieldErr builds an *Error for field; Parse fills in the path.
func fieldErr(field string, format string, args ...any) error {
	return &Error{Field: field, Err: fmt.Errorf(format, args...)}
}

// wrapField attaches field to err.
func wrapField(field string, err error) error {
	return &Error{Field: field, Err: err}
}

// join appends key to a dotted field path.
func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// Package progress owns the meters long copies report to: library code
// counts bytes through a Meter it is handed; only cli draws bars.
package progress

import "io"

// Meter follows one copy: Add after each write, Done at the end.
type Meter interface {
	Add(n int64)
	Done()
}

// Writer returns w counting what is written through it into m (w itself
// when m is nil).
func Writer(w io.Writer, m Meter) io.Writer {
	if m == nil {
		return w
	}
	return &metered{w: w, m: m}
}

type metered struct {
	w io.Writer
	m Meter
}

func (mw *metered) Write(p []byte) (int, error) {
	n, err := mw.w.Write(p)
	mw.m.Add(int64(n))
	return n, err
}

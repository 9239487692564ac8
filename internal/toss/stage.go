package toss

import (
	"bytes"
	"io"
	"os"

	"ferry/internal/safeio"
)

// stage holds a body in memory up to a limit, then in a temporary file
// in the spool's tmp/, removed as soon as it is made: a crash leaves
// nothing behind.
type stage struct {
	dir   string
	limit int64
	mem   bytes.Buffer
	f     *safeio.File
	err   error // the first write error
}

func newStage(dir string, limit int64) (*stage, error) {
	if limit <= 0 {
		limit = 16 << 20
	}
	return &stage{dir: dir, limit: limit}, nil
}

func (s *stage) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.write(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

func (s *stage) write(p []byte) (int, error) {
	if s.f == nil && int64(s.mem.Len()+len(p)) > s.limit {
		f, err := safeio.CreateTemp(s.dir, "stage", safeio.Options{})
		if err != nil {
			return 0, err
		}
		os.Remove(f.Name()) // unnamed: gone whatever happens
		s.f = f
		if _, err := f.Write(s.mem.Bytes()); err != nil {
			return 0, err
		}
		s.mem = bytes.Buffer{}
	}
	if s.f != nil {
		return s.f.Write(p)
	}
	return s.mem.Write(p)
}

// Reader returns the staged bytes from the start.
func (s *stage) Reader() (io.Reader, error) {
	if s.f != nil {
		if _, err := s.f.OS().Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return s.f.OS(), nil
	}
	return bytes.NewReader(s.mem.Bytes()), nil
}

func (s *stage) Close() {
	if s.f != nil {
		s.f.Abort()
	}
}

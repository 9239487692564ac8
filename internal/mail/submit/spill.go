package submit

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
)

// spill holds a message body: in memory up to limit bytes, then in a
// temporary file in dir. The file is unlinked as soon as it is created
// where the system allows it, so that nothing is left behind by a crash.
type spill struct {
	limit    int
	dir      string
	mem      bytes.Buffer
	f        *os.File
	w        *bufio.Writer // buffers writes to f
	name     string        // set while the file still has a name to remove
	n        int64
	eightBit bool
}

func (s *spill) Write(p []byte) (int, error) {
	if !s.eightBit && hasEightBit(p) {
		s.eightBit = true
	}
	if s.f == nil && (s.limit < 0 || s.mem.Len()+len(p) > s.limit) {
		f, err := os.CreateTemp(s.dir, "ferry-sendmail-*")
		if err != nil {
			return 0, tempError{fmt.Errorf("spooling the message: %w", err)}
		}
		s.f, s.w = f, bufio.NewWriterSize(f, 64<<10)
		if os.Remove(f.Name()) != nil {
			s.name = f.Name()
		}
		if _, err := s.w.Write(s.mem.Bytes()); err != nil {
			return 0, tempError{fmt.Errorf("spooling the message: %w", err)}
		}
		s.mem = bytes.Buffer{}
	}
	if s.f == nil {
		n, _ := s.mem.Write(p)
		s.n += int64(n)
		return n, nil
	}
	n, err := s.w.Write(p)
	s.n += int64(n)
	if err != nil {
		return n, tempError{fmt.Errorf("spooling the message: %w", err)}
	}
	return n, nil
}

// flush ends writing.
func (s *spill) flush() error {
	if s.w == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return tempError{fmt.Errorf("spooling the message: %w", err)}
	}
	return nil
}

func (s *spill) reader() io.Reader {
	if s.f != nil {
		return io.NewSectionReader(s.f, 0, s.n)
	}
	return bytes.NewReader(s.mem.Bytes())
}

func (s *spill) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	if s.name != "" {
		if rerr := os.Remove(s.name); err == nil {
			err = rerr
		}
	}
	s.f, s.name = nil, ""
	return err
}

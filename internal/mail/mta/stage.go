package mta

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"strings"

	"ferry/internal/safeio"
)

// stageMemLimit is the largest message staged in memory; bigger ones go
// to a temporary file (no fsync: NNCP still holds the packet).
const stageMemLimit = 1 << 20

// stage holds one received message while it is delivered.
type stage struct {
	mem  []byte
	f    *os.File
	size int64
	sum  []byte // SHA-256 of the message
}

func newStage(dir string, r io.Reader) (*stage, error) {
	h := sha256.New()
	r = io.TeeReader(r, h)
	st, err := stageIn(dir, r)
	if err != nil {
		return nil, err
	}
	st.sum = h.Sum(nil)
	return st, nil
}

func stageIn(dir string, r io.Reader) (*stage, error) {
	buf := make([]byte, 0, 64<<10)
	b := bytes.NewBuffer(buf)
	n, err := io.CopyN(b, r, stageMemLimit+1)
	if err == io.EOF {
		return &stage{mem: b.Bytes(), size: n}, nil
	}
	if err != nil {
		return nil, err
	}
	tf, err := safeio.CreateTemp(dir, "in", safeio.Options{})
	if err != nil {
		return nil, err
	}
	f := tf.OS()
	os.Remove(f.Name()) // unnamed: gone whatever happens
	st := &stage{f: f}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return nil, err
	}
	m, err := io.Copy(f, r)
	if err != nil {
		f.Close()
		return nil, err
	}
	st.size = n + m
	return st, nil
}

func (s *stage) open() (io.ReadCloser, error) {
	if s.f == nil {
		return io.NopCloser(bytes.NewReader(s.mem)), nil
	}
	return io.NopCloser(io.NewSectionReader(s.f, 0, s.size)), nil
}

func (s *stage) close() {
	if s.f != nil {
		s.f.Close()
	}
}

// countReceived counts the Received: fields of the header.
func (s *stage) countReceived() int {
	rc, _ := s.open()
	buf := make([]byte, 256<<10)
	n, _ := io.ReadFull(rc, buf)
	head := buf[:n]
	if i := bytes.Index(head, []byte("\n\n")); i >= 0 {
		head = head[:i]
	} else if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
		head = head[:i]
	}
	c := 0
	for _, l := range bytes.Split(head, []byte("\n")) {
		if len(l) > 9 && strings.EqualFold(string(l[:9]), "received:") {
			c++
		}
	}
	return c
}

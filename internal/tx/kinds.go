package tx

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"

	"ferry/internal/config"
	"ferry/internal/mth"
	"ferry/internal/wire"
)

// ErrPathTooLong is returned when a destination path, or exec handle and
// arguments, do not fit the 255-byte path field.
var ErrPathTooLong = errors.New("does not fit the packet's 255-byte path field")

func header(t wire.Type, nice uint8, path string) (wire.PlainHeader, error) {
	if len(path) > wire.MaxPathSize {
		return wire.PlainHeader{}, fmt.Errorf("%q (%d bytes) %w", path, len(path), ErrPathTooLong)
	}
	return wire.PlainHeader{Type: t, Nice: nice, Path: []byte(path)}, nil
}

// File queues a file transmission: body goes to dst in the recipient's
// incoming directory.
func (s *Sender) File(to *config.Neighbour, body io.Reader, dst string, o Options) (*Result, error) {
	ph, err := header(wire.TypeFile, o.Nice, dst)
	if err != nil {
		return nil, err
	}
	return s.Send(to, ph, o, func(w io.Writer) error {
		_, err := io.Copy(w, body)
		return err
	})
}

// ChunkedResult tells what a chunked transmission queued.
type ChunkedResult struct {
	Chunks []*Result
	Meta   *Result
	Size   int64 // the whole file's size
}

// FileChunked queues body split in chunks of chunkSize bytes, each a file
// packet DST.nncp.chunkN, followed by DST.nncp.meta listing their MTH.
// report, if set, is handed each chunk's Result once it is queued.
func (s *Sender) FileChunked(to *config.Neighbour, body io.Reader, dst string, chunkSize int64, o Options, report func(*Result)) (*ChunkedResult, error) {
	if chunkSize <= 0 {
		return nil, errors.New("chunk size must be positive")
	}
	if len(dst)+len(".nncp.chunk")+10 > wire.MaxPathSize {
		return nil, fmt.Errorf("%q: chunk names %w", dst, ErrPathTooLong)
	}
	br := bufio.NewReaderSize(body, 64*1024)
	meta := wire.ChunkMeta{ChunkSize: uint64(chunkSize)}
	res := &ChunkedResult{}
	for i := 0; ; i++ {
		if i > 0 {
			if _, err := br.Peek(1); err == io.EOF {
				break
			} else if err != nil {
				return res, err
			}
		}
		ph, _ := header(wire.TypeFile, o.Nice, fmt.Sprintf("%s.nncp.chunk%d", dst, i))
		h := mth.New()
		var n int64
		r, err := s.Send(to, ph, o, func(w io.Writer) error {
			var err error
			n, err = io.Copy(io.MultiWriter(w, h), io.LimitReader(br, chunkSize))
			return err
		})
		if err != nil {
			return res, fmt.Errorf("chunk %d: %w", i, err)
		}
		meta.FileSize += uint64(n)
		meta.Checksums = append(meta.Checksums, h.Root())
		r.Chunk = i
		res.Chunks = append(res.Chunks, r)
		if report != nil {
			report(r)
		}
		if n < chunkSize {
			break
		}
	}
	res.Size = int64(meta.FileSize)
	ph, _ := header(wire.TypeFile, o.Nice, dst+".nncp.meta")
	mb := meta.Marshal()
	r, err := s.Send(to, ph, o, func(w io.Writer) error {
		_, err := w.Write(mb)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("meta: %w", err)
	}
	res.Meta = r
	return res, nil
}

// ExecOptions are the exec-specific settings.
type ExecOptions struct {
	Options
	// ReplyNice is handed to the handle as NNCP_NICE.
	ReplyNice uint8
	// NoCompress sends the body as is (exec-fat) instead of zstd.
	NoCompress bool
}

// ExecPath joins a handle and its arguments with NULs, as the path field
// carries them.
func ExecPath(handle string, args []string) string {
	return strings.Join(append([]string{handle}, args...), "\x00")
}

// Exec queues a remote command: handle with args, body on its stdin.
func (s *Sender) Exec(to *config.Neighbour, handle string, args []string, body io.Reader, o ExecOptions) (*Result, error) {
	if handle == "" || strings.ContainsRune(handle, 0) {
		return nil, errors.New("exec: bad handle name")
	}
	t := wire.TypeExec
	if o.NoCompress {
		t = wire.TypeExecFat
	}
	ph, err := header(t, o.ReplyNice, ExecPath(handle, args))
	if err != nil {
		return nil, err
	}
	return s.Send(to, ph, o.Options, func(w io.Writer) error {
		if o.NoCompress {
			_, err := io.Copy(w, body)
			return err
		}
		// The fastest level: mail and command bodies are small, and the
		// default level's tables cost more to set up (page faults in a
		// fresh process) than they save on the link.
		z, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true),
			zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithWindowSize(1<<20))
		if err != nil {
			return err
		}
		if _, err := z.ReadFrom(body); err != nil {
			z.Close()
			return err
		}
		return z.Close()
	})
}

// Freq queues a file request: the recipient sends its file src (from
// its freq.path) back to us, saved as dst, at niceness replyNice.
func (s *Sender) Freq(to *config.Neighbour, src, dst string, replyNice uint8, o Options) (*Result, error) {
	ph, err := header(wire.TypeFreq, replyNice, src)
	if err != nil {
		return nil, err
	}
	return s.Send(to, ph, o, func(w io.Writer) error {
		_, err := io.WriteString(w, dst)
		return err
	})
}

// ACK queues an acknowledgement of packet pkt (Base32 name) received
// from `to`.
func (s *Sender) ACK(to *config.Neighbour, pkt [32]byte, o Options) (*Result, error) {
	ph := wire.PlainHeader{Type: wire.TypeACK, Nice: o.Nice, Path: pkt[:]}
	return s.Send(to, ph, o, func(io.Writer) error { return nil })
}

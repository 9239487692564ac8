package toss

import (
	"bytes"
	"errors"
	"ferry/internal/safeio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"

	"ferry/internal/node"
	"ferry/internal/progress"
	"ferry/internal/tx"
	"ferry/internal/wire"
)

// SafeRel checks a path from a packet (a file's destination, a freq's
// source) and returns it cleaned and relative. Absolute paths, ".."
// components, NULs and empty paths are refused: nothing may escape the
// directory it is joined to.
func SafeRel(p string) (string, error) {
	if p == "" || strings.ContainsRune(p, 0) || filepath.IsAbs(p) {
		return "", fmt.Errorf("%q: %w", p, ErrBadPath)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("%q: %w", p, ErrBadPath)
		}
	}
	c := filepath.Clean(p)
	if c == "." || strings.HasPrefix(c, "../") || c == ".." {
		return "", fmt.Errorf("%q: %w", p, ErrBadPath)
	}
	return c, nil
}

// drain reads the rest of the body, which authenticates the packet's end.
func (p *packet) drain() (int64, error) {
	return io.Copy(io.Discard, p.body)
}

func (p *packet) file() error {
	inc := p.sender.Incoming
	if inc == "" {
		p.drain()
		return ErrNoIncoming
	}
	rel, err := SafeRel(string(p.ph.Path))
	if err != nil {
		return err
	}
	dst := filepath.Join(inc, rel)
	p.ev.Dst, p.ev.Saved = string(p.ph.Path), dst
	if p.t.Opts.DryRun {
		n, err := p.drain()
		p.ev.Size = n
		return err
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".ferry-"+filepath.Base(dst)+".*.part")
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var w io.Writer = tmp
	if p.t.Opts.Progress != nil {
		if m := p.t.Opts.Progress(p.job, string(p.ph.Path)); m != nil {
			w = progress.Writer(tmp, m)
			defer m.Done()
		}
	}
	n, err := io.Copy(w, p.body)
	p.ev.Size = n
	if err != nil {
		return err
	}
	if err := p.t.Spool.Sync(tmp); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	final, err := safeio.PlaceNoClobber(tmp.Name(), dst)
	if err != nil {
		return err
	}
	committed = true
	p.ev.Saved = final
	return p.t.Spool.SyncDir(dir)
}

func (p *packet) freq() error {
	raw, err := io.ReadAll(io.LimitReader(p.body, 4*1024+1))
	if err != nil {
		return err
	}
	if len(raw) > 4*1024 {
		return errors.New("freq: destination name longer than 4 KiB")
	}
	if _, err := p.drain(); err != nil {
		return err
	}
	dst := string(raw)
	src := string(p.ph.Path)
	p.ev.Src, p.ev.Dst = src, dst
	fr := p.sender.Freq
	if fr == nil || fr.Path == "" {
		return ErrNoFreq
	}
	rel, err := SafeRel(src)
	if err != nil {
		return err
	}
	full := filepath.Join(fr.Path, rel)
	f, err := os.Open(full)
	if err != nil {
		return fmt.Errorf("freq: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("freq: %s is not a regular file", full)
	}
	p.ev.Size = fi.Size()
	if dst == "" {
		dst = filepath.Base(rel)
		p.ev.Dst = dst
	}
	p.ev.Saved = full
	if p.t.Opts.DryRun {
		return nil
	}
	nice := p.ph.Nice
	if nice == 0 {
		nice = node.NiceBulk
	}
	o := tx.Options{Nice: nice, MinSize: fr.MinSize * 1024}
	if fr.Chunked > 0 {
		res, err := p.t.Sender.FileChunked(p.sender, f, dst, fr.Chunked*1024, o, nil)
		if err != nil {
			return err
		}
		p.ev.Reply = append(res.Chunks, res.Meta)
		return nil
	}
	r, err := p.t.Sender.File(p.sender, f, dst, o)
	if err != nil {
		return err
	}
	p.ev.Reply = []*tx.Result{r}
	return nil
}

func (p *packet) exec() error {
	parts := bytes.Split(p.ph.Path, []byte{0})
	handle := string(parts[0])
	p.ev.Handle = handle
	args := make([]string, 0, len(parts)-1)
	for _, a := range parts[1:] {
		args = append(args, string(a))
	}
	p.ev.Dst = strings.Join(append([]string{handle}, args...), " ")
	argv, ok := p.sender.Exec[handle]
	if !ok || len(argv) == 0 {
		p.drain()
		return fmt.Errorf("%w: %q", ErrNoHandle, handle)
	}
	// Stage the whole (decompressed) body: the handle sees only a body
	// that authenticated to the end.
	st, err := newStage(p.t.Spool.TmpDir(), p.t.Opts.MemLimit)
	if err != nil {
		return err
	}
	defer st.Close()
	cnt := &countingReader{r: p.body}
	if p.ph.Type == wire.TypeExec {
		z, err := p.t.decoder(cnt)
		if err != nil {
			return err
		}
		_, err = io.Copy(st, z)
		if err != nil {
			return fmt.Errorf("exec body: %w", err)
		}
		// Anything after the zstd frame must still authenticate.
		if _, err := io.Copy(io.Discard, cnt); err != nil {
			return err
		}
	} else if _, err := io.Copy(st, cnt); err != nil {
		return err
	}
	p.ev.Size = cnt.n
	if p.t.Opts.DryRun {
		return nil
	}
	body, err := st.Reader()
	if err != nil {
		return err
	}
	env := p.t.Opts.Env
	if env == nil {
		env = os.Environ()
	}
	full := append(append([]string(nil), argv...), args...)
	out := &capped{max: 64 * 1024}
	if in := p.t.Opts.InProcess; in != nil {
		handled, err := in(&Handle{Argv: full, Sender: p.sender, Nice: p.ph.Nice, Stdin: body, Output: out})
		if handled {
			p.ev.Output = out.buf.Bytes()
			if err != nil {
				return fmt.Errorf("%w: %s: %w", ErrHandleFailed, handle, err)
			}
			return nil
		}
	}
	cmd := exec.Command(full[0], full[1:]...)
	cmd.Env = append(append([]string(nil), env...),
		"NNCP_SELF="+p.t.Cfg.Self.ID.String(),
		"NNCP_SENDER="+p.sender.ID.String(),
		"NNCP_NICE="+strconv.Itoa(int(p.ph.Nice)))
	cmd.Stdin = body
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	p.ev.Output = out.buf.Bytes()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrHandleFailed, handle, err)
	}
	return nil
}

func (p *packet) trns() error {
	if len(p.ph.Path) != node.IDSize {
		return fmt.Errorf("trns: next hop is %d bytes: %w", len(p.ph.Path), wire.ErrBadField)
	}
	next := node.ID(p.ph.Path)
	p.ev.Dst = next.String()
	hop, ok := p.t.Cfg.ByID[next]
	if !ok {
		p.drain()
		return fmt.Errorf("trns: next hop %s: %w", next, ErrUnknownSender)
	}
	if p.t.Opts.DryRun {
		n, err := p.drain()
		p.ev.Size = n
		return err
	}
	r, err := p.t.Sender.Relay(hop, p.body)
	if err != nil {
		return err
	}
	p.ev.Size = r.Size
	p.ev.Relayed = r
	return nil
}

func (p *packet) ack() error {
	if _, err := p.drain(); err != nil {
		return err
	}
	if len(p.ph.Path) != 32 {
		return fmt.Errorf("ack: packet id is %d bytes: %w", len(p.ph.Path), wire.ErrBadField)
	}
	name := node.B32.EncodeToString(p.ph.Path)
	p.ev.Dst = name
	if p.t.Opts.DryRun {
		return nil
	}
	err := p.t.Spool.Remove(p.sender.ID, "tx", name)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// capped keeps the first max bytes written to it.
type capped struct {
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// decoder returns the tosser's zstd decoder reset to read r.
func (t *Tosser) decoder(r io.Reader) (*zstd.Decoder, error) {
	if t.zdec == nil {
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		t.zdec = z
		return z, nil
	}
	return t.zdec, t.zdec.Reset(r)
}

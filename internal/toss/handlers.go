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
	"syscall"

	"github.com/klauspost/compress/zstd"

	"ferry/internal/config"
	"ferry/internal/node"
	"ferry/internal/progress"
	"ferry/internal/spool"
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
	p.ev.Dst = string(p.ph.Path)
	if inc == "" {
		// Refused, but read to its end: the record says how big it is.
		p.ev.Size, _ = p.drain()
		return ErrNoIncoming
	}
	rel, err := SafeRel(string(p.ph.Path))
	if err != nil {
		return err
	}
	dst := filepath.Join(inc, rel)
	p.ev.Saved = dst
	if p.t.Opts.DryRun {
		n, err := p.drain()
		p.ev.Size = n
		return err
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	// A toss killed after placing this file but before removing the
	// packet left the marker linked to the placed file: finish that toss
	// rather than save the file a second time.
	marker := filepath.Join(dir, markerName(p.job.Name))
	if saved, size, ok := placedBefore(marker); ok {
		p.ev.Saved, p.ev.Size = saved, size
		p.after = func() { os.Remove(marker) }
		return nil
	}
	os.Remove(marker) // never placed: start again
	p.t.cleanStale(dir)
	opt := safeio.Options{NoSync: p.t.Spool.NoSync, Perm: safeio.PermShared}
	tmp, err := safeio.CreateTemp(dir, filepath.Base(dst), opt)
	if err != nil {
		return err
	}
	defer tmp.Abort()
	// Held until the file is placed: `ferry rm -tmp` and the next toss
	// leave a temporary file alone while its writer lives.
	spool.HoldTemp(tmp)
	var w io.Writer = tmp
	if p.t.Opts.Progress != nil {
		p.t.repMu.Lock()
		m := p.t.Opts.Progress(p.ev)
		p.t.repMu.Unlock()
		if m != nil {
			w = progress.Writer(tmp, m)
			defer m.Done()
		}
	}
	n, err := io.Copy(w, p.body)
	p.ev.Size = n
	if err != nil {
		return err
	}
	// The marker is a second name of the temporary file, made before the
	// file is placed: once placed, the two share one inode, which is how
	// a later toss tells a placed file from one that never was. (The
	// commit fsyncs the data before it places the file.)
	if err := os.Link(tmp.Name(), marker); err != nil {
		marker = "" // no hard links here (vfat): no protection
	}
	final, err := tmp.CommitNoClobber(dst)
	if err != nil {
		if _, _, placed := placedBefore(marker); marker != "" && !placed {
			os.Remove(marker)
		}
		// Placed but not durable (the directory's fsync failed): the
		// packet stays, and the marker makes its next toss finish.
		return err
	}
	p.ev.Saved = final
	if marker != "" {
		p.after = func() { os.Remove(marker) }
	}
	return nil
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
	f, fi, err := openFreq(fr.Path, rel, fr.FollowSymlinks)
	if err != nil {
		return fmt.Errorf("freq: %w", err)
	}
	defer f.Close()
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
	p.t.txMu.Lock()
	defer p.t.txMu.Unlock()
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

// openFreq opens the file a freq asks for: rel (already checked by
// SafeRel) under root. Only regular files are served: a FIFO, a device or
// a directory is refused before it is opened (opening a FIFO would block
// the toss, and its lock, forever; opening a tape device may rewind it).
// Unless follow, a path whose symbolic links lead out of root is refused:
// a link to ".." would serve the node's own config and its private keys.
func openFreq(root, rel string, follow bool) (*os.File, os.FileInfo, error) {
	path := filepath.Join(root, rel)
	if !follow {
		rroot, err := filepath.EvalSymlinks(root)
		if err != nil {
			return nil, nil, err
		}
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			return nil, nil, err
		}
		if r, err := filepath.Rel(rroot, real); err != nil || r == ".." || strings.HasPrefix(r, "../") {
			return nil, nil, fmt.Errorf("%s: %w through a symbolic link (freq.follow-symlinks allows it)", path, ErrBadPath)
		}
		path = real
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, fi.Mode().Type())
	}
	// O_NONBLOCK: should it have become a FIFO meanwhile, the open still
	// returns at once, and the check below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fi2, err := f.Stat()
	if err == nil && (!fi2.Mode().IsRegular() || !os.SameFile(fi, fi2)) {
		err = fmt.Errorf("%s: %w (changed while opened)", path, ErrNotRegular)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi2, nil
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
		p.ev.Size, _ = p.drain()
		return fmt.Errorf("%w: %q", ErrNoHandle, handle)
	}
	limit := p.sender.ExecMaxSize
	if limit <= 0 {
		limit = config.DefaultExecMaxSize
	}
	// First pass: stage the body as it travels (compressed: no bigger than
	// the packet, whatever it expands to) and decompress it to nowhere,
	// to check that it authenticates to the end and fits in limit. The
	// handle sees only a body that did both.
	st, err := newStage(p.t.Spool.TmpDir(), p.t.Opts.MemLimit)
	if err != nil {
		return err
	}
	p.release = st.Close
	cnt := &countingReader{r: p.body}
	in := io.TeeReader(cnt, st)
	if p.ph.Type == wire.TypeExec {
		z, err := p.t.decoder(in)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, capReader(z, limit))
		p.t.putDecoder(z)
		if err != nil {
			return fmt.Errorf("exec body: %w", err)
		}
		// Anything after the zstd frame must still authenticate.
		if _, err := io.Copy(io.Discard, in); err != nil {
			return err
		}
	} else if _, err := io.Copy(io.Discard, capReader(in, limit)); err != nil {
		return fmt.Errorf("exec body: %w", err)
	}
	if st.err != nil {
		return fmt.Errorf("staging the exec body: %w", st.err)
	}
	p.ev.Size = cnt.n
	if p.t.Opts.DryRun {
		return nil
	}
	// Second pass, when the handle runs (it may run beside other packets'
	// handles): the staged bytes, decompressed on the fly into the
	// handle.
	p.run = func() error { return p.runHandle(st, argv, args, limit) }
	return nil
}

// runHandle starts an exec packet's handle on its staged body. The cap is
// checked again: a handle that sees the body end early is killed, never
// left to take it as whole.
func (p *packet) runHandle(st *stage, argv, args []string, limit int64) error {
	handle := p.ev.Handle
	staged, err := st.Reader()
	if err != nil {
		return err
	}
	body := capReader(staged, limit)
	if p.ph.Type == wire.TypeExec {
		z, err := p.t.decoder(staged)
		if err != nil {
			return err
		}
		defer p.t.putDecoder(z)
		body = capReader(z, limit)
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
	cmd.Stdout, cmd.Stderr = out, out
	err = runFed(cmd, body)
	p.ev.Output = out.buf.Bytes()
	var bad *bodyError
	if errors.As(err, &bad) {
		return fmt.Errorf("exec body: %w", bad.err)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrHandleFailed, handle, err)
	}
	return nil
}

// bodyError is a failure to read the body being fed to a handle.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// runFed runs cmd with body on its stdin. If reading body fails, the
// command is killed before its stdin is closed, so that it cannot take a
// cut body for a whole one; the failure is returned as a *bodyError. A
// handle that exits without reading all of its stdin is not an error
// (os/exec does the same).
func runFed(cmd *exec.Cmd, body io.Reader) error {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var rerr error
	_, werr := io.Copy(stdin, readErrTagger{body, &rerr})
	if rerr != nil {
		cmd.Process.Kill()
		stdin.Close()
		cmd.Wait()
		return &bodyError{rerr}
	}
	stdin.Close()
	err = cmd.Wait()
	if werr != nil && err == nil && !errors.Is(werr, syscall.EPIPE) && !errors.Is(werr, os.ErrClosed) {
		err = werr
	}
	return err
}

// readErrTagger remembers a read error so that it can be told from a
// write error after io.Copy.
type readErrTagger struct {
	r   io.Reader
	err *error
}

func (t readErrTagger) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		*t.err = err
	}
	return n, err
}

// capReader fails with ErrExecTooBig once more than limit bytes were read.
func capReader(r io.Reader, limit int64) io.Reader { return &capR{r: r, left: limit, limit: limit} }

type capR struct {
	r           io.Reader
	left, limit int64
}

func (c *capR) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, fmt.Errorf("%w (%d bytes)", ErrExecTooBig, c.limit)
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n - int(-c.left), fmt.Errorf("%w (%d bytes)", ErrExecTooBig, c.limit)
	}
	return n, err
}

func (p *packet) trns() error {
	if len(p.ph.Path) != node.IDSize {
		return fmt.Errorf("trns: next hop is %d bytes: %w", len(p.ph.Path), wire.ErrBadField)
	}
	next := node.ID(p.ph.Path)
	p.ev.Dst = next.String()
	hop, ok := p.t.Cfg.ByID[next]
	if !ok {
		p.ev.Size, _ = p.drain()
		return fmt.Errorf("trns: next hop %s: %w", next, ErrUnknownSender)
	}
	if p.t.Opts.DryRun {
		n, err := p.drain()
		p.ev.Size = n
		return err
	}
	p.t.txMu.Lock()
	r, err := p.t.Sender.Relay(hop, p.body)
	p.t.txMu.Unlock()
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

// maxWindow bounds the memory a zstd frame may ask for: NNCP's encoder
// uses 8 MiB at most.
const maxWindow = 64 << 20

// decoder returns one of the tosser's zstd decoders (made if none is
// free) reset to read r; putDecoder gives it back.
func (t *Tosser) decoder(r io.Reader) (*zstd.Decoder, error) {
	select {
	case z := <-t.zdecPool():
		return z, z.Reset(r)
	default:
	}
	return zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxWindow))
}

func (t *Tosser) putDecoder(z *zstd.Decoder) {
	select {
	case t.zdecPool() <- z:
	default:
		z.Close()
	}
}

func (t *Tosser) zdecPool() chan *zstd.Decoder {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.zdecs == nil {
		t.zdecs = make(chan *zstd.Decoder, t.parallel()+1)
	}
	return t.zdecs
}

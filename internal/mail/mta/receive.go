package mta

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ferry/internal/config"
	"ferry/internal/mail/bsmtp"
	"ferry/internal/mail/queue"
	"ferry/internal/owner"
	"ferry/internal/safeio"
)

// ReceiveOptions tune a reception.
type ReceiveOptions struct {
	// QueueOnly puts every message in the queue for the next queue run
	// instead of delivering it now.
	QueueOnly bool
}

// Received sums up what a reception did.
type Received struct {
	Accepted   []*queue.Entry // new entries
	Duplicates int            // messages of this batch accepted before
	// Quarantined is where a batch with malformed parts was kept (""
	// when it was clean); BadErrs says what was wrong.
	Quarantined string
	BadErrs     []error
}

// ReceiveBSMTP takes a BSMTP batch from neighbour origin (the rsmtp
// handle's stdin). The batch is first copied to a temporary file, then
// each transaction is accepted under a key of its own: the origin, its
// position in the batch and a hash of its envelope and message, nothing
// of the rest of the batch. A batch tossed again (after a crash, a
// partial failure, or a tosser killed while it streamed the batch, which
// cuts it short) finds the keys of what it delivered before and delivers
// nothing twice. Malformed transactions do not stop the others: the whole
// batch is kept in QUEUE/bad/ with a note of what was wrong, for the
// postmaster. Only when everything is either delivered, queued or kept
// does it return nil, and the handle exits 0.
func (m *MTA) ReceiveBSMTP(in io.Reader, origin *config.Neighbour, o ReceiveOptions) (*Received, error) {
	batch, sum, err := m.spoolBatch(in)
	if err != nil {
		return nil, err
	}
	defer os.Remove(batch)
	f, err := os.Open(batch)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res := &Received{}
	r := bsmtp.NewReader(f)
	for i := 0; ; i++ {
		env, body, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			res.BadErrs = append(res.BadErrs, err)
			if !errors.As(err, new(*bsmtp.Error)) {
				return res, err // an I/O error, not a malformed batch
			}
			continue
		}
		if err := m.acceptOne(env, body, origin, fmt.Sprintf("%s:%d", origin.ID, i), o, res); err != nil {
			var be *bsmtp.Error
			if errors.As(err, &be) {
				res.BadErrs = append(res.BadErrs, err)
				continue
			}
			return res, err
		}
	}
	if len(res.BadErrs) > 0 {
		p, err := m.quarantine(batch, sum, origin, res.BadErrs)
		if err != nil {
			return res, err
		}
		res.Quarantined = p
		m.Log.Mail(&Event{What: "quarantined", ID: filepath.Base(p), Err: errors.Join(res.BadErrs...)})
	}
	return res, nil
}

// transactionKey is the dedup key of one received transaction: prefix
// (origin and position), then a hash of the envelope and of the message
// as it came (sum).
func transactionKey(prefix string, env *bsmtp.Envelope, sum []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00", env.From, len(env.To))
	for _, t := range env.To {
		fmt.Fprintf(h, "%s\x00", t)
	}
	fmt.Fprintf(h, "%v\x00%v\x00", env.Params, env.RcptParams)
	h.Write(sum)
	return prefix + ":" + hex.EncodeToString(h.Sum(nil))
}

// acceptOne takes one transaction of a batch: its message is staged
// whole (so a truncated DATA is never acted on) and its key claimed. A
// key already done is a duplicate. A new key's intent is recorded
// durably before anything is delivered; a key in doubt (an earlier
// attempt was killed) is retried with the first attempt's time, and the
// deliveries look for what that attempt made visible. The message, with
// a Received header put in front, is delivered now; what cannot be
// delivered yet goes into the queue; then the key is marked done.
func (m *MTA) acceptOne(env *bsmtp.Envelope, body io.Reader, origin *config.Neighbour, prefix string, o ReceiveOptions, res *Received) error {
	st, err := newStage(filepath.Join(m.Queue.Dir, "tmp"), body)
	if err != nil {
		return err
	}
	defer st.close()
	key := transactionKey(prefix, env, st.sum)
	id := queue.KeyID(key)
	claim, err := m.Queue.Begin(key, m.Now())
	if err != nil {
		return err
	}
	defer claim.Release()
	if claim.State == queue.KeyDone || m.Queue.Known(id) {
		res.Duplicates++ // delivered, or queued, by an earlier toss of this batch
		m.Log.Mail(&Event{What: "duplicate", ID: id, From: env.From, Rcpts: env.To})
		return claim.Done()
	}
	if hops := st.countReceived() + 1; hops > maxHops {
		res.BadErrs = append(res.BadErrs, fmt.Errorf("%w: %d Received headers (from <%s>)", ErrLoop, hops, env.From))
		return claim.Done()
	}
	env = dedupRcpts(env)
	rcvd := m.receivedHeader(origin, id, env.To, claim.Since)
	open := func() (io.ReadCloser, error) {
		rc, err := st.open()
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(strings.NewReader(rcvd), rc), rc}, nil
	}
	msg := &Message{Env: env, Size: int64(len(rcvd)) + st.size, Open: open}
	m.fillHeaderFacts(msg)
	if env.From == "" {
		m.noteDSN(msg.Open)
	}
	idx := make([]int, len(env.To))
	for i := range idx {
		idx[i] = i
	}
	e := m.newEntry(msg, idx, origin.ID.String(), key)
	e.Received = claim.Since
	for _, r := range e.Rcpts {
		r.Updated = e.Received
	}
	m.capRcpts(e)
	what := "received"
	if claim.State == queue.KeyInDoubt {
		what = "received again" // an earlier attempt was cut short
	}
	m.Log.Mail(&Event{What: what, ID: e.ID, From: e.From, Rcpts: rcptAddrs(e), Via: "nncp:" + origin.Name, Size: e.Size})
	if err := m.handle(e, open, handleOptions{QueueOnly: o.QueueOnly, Retry: claim.State == queue.KeyInDoubt}); err != nil {
		return err
	}
	if err := claim.Done(); err != nil {
		return err
	}
	m.Queue.DropIntents(e) // only now: a retry before Done needs them
	res.Accepted = append(res.Accepted, e)
	return nil
}

// ReceiveRmail takes one message from neighbour origin in rmail form: the
// recipients from the handle's arguments, the message on stdin, and the
// sender from -f (fromKnown) or else, as rmail(8) does, from a leading
// UUCP "From sender date" line or a Return-Path header (what Postfix's
// pipe(8) flags F and R add), which is then removed from the message:
// delivery writes its own Return-Path.
func (m *MTA) ReceiveRmail(in io.Reader, from string, fromKnown bool, to []string, origin *config.Neighbour, o ReceiveOptions) (*Received, error) {
	if len(to) == 0 {
		return nil, &PermanentError{errors.New("rmail: no recipients")}
	}
	batch, _, err := m.spoolBatch(in)
	if err != nil {
		return nil, err
	}
	defer os.Remove(batch)
	f, err := os.Open(batch)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if from == "<>" {
		from = ""
	}
	var body io.Reader = f
	if !fromKnown {
		from, body, err = senderFromMessage(f)
		if err != nil {
			return nil, err
		}
		// The neighbour wrote it: refuse now what delivery would refuse
		// (a CR, NUL, no domain), rather than queue mail nobody can take.
		if from != "" && from != "<>" {
			if err := bsmtp.CheckAddress(from); err != nil {
				return nil, &PermanentError{fmt.Errorf("rmail: the sender %q in the message: %w", from, err)}
			}
		}
	}
	env := &bsmtp.Envelope{From: from, To: to}
	res := &Received{}
	return res, m.acceptOne(env, body, origin, origin.ID.String()+":rmail", o, res)
}

// senderFromMessage finds the envelope sender in a leading "From " line
// or the first Return-Path field of the header, and returns the message
// without that line ("" and the message as is when there is none).
func senderFromMessage(f *os.File) (string, io.Reader, error) {
	head := make([]byte, 256<<10)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return "", nil, err
	}
	head = head[:n]
	rest := io.NewSectionReader(f, int64(n), 1<<62)
	cut := func(start, end int) io.Reader {
		return io.MultiReader(bytes.NewReader(head[:start]), bytes.NewReader(head[end:]), rest)
	}
	lineEnd := func(i int) int {
		if j := bytes.IndexByte(head[i:], '\n'); j >= 0 {
			return i + j + 1
		}
		return len(head)
	}
	if bytes.HasPrefix(head, []byte("From ")) {
		end := lineEnd(0)
		fields := strings.Fields(string(head[5:end]))
		if len(fields) > 0 {
			return strings.Trim(fields[0], "<>"), cut(0, end), nil
		}
	}
	for i := 0; i < len(head); {
		end := lineEnd(i)
		line := head[i:end]
		if len(bytes.TrimSpace(line)) == 0 {
			break // end of the header
		}
		if len(line) > 12 && strings.EqualFold(string(line[:12]), "return-path:") {
			v := strings.TrimSpace(string(line[12:]))
			if a, b := strings.IndexByte(v, '<'), strings.LastIndexByte(v, '>'); a >= 0 && b > a {
				v = v[a+1 : b]
			}
			return v, cut(i, end), nil
		}
		i = end
	}
	return "", io.MultiReader(bytes.NewReader(head), rest), nil
}

// spoolBatch copies in to a file in the queue's tmp/ and returns its path
// and SHA-256.
func (m *MTA) spoolBatch(in io.Reader) (string, string, error) {
	f, err := owner.CreateTemp(filepath.Join(m.Queue.Dir, "tmp"), "batch-*")
	if err != nil {
		return "", "", err
	}
	// No fsync: until the handle exits 0, NNCP keeps the packet.
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), in)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", "", fmt.Errorf("storing the batch: %w", err)
	}
	return f.Name(), hex.EncodeToString(h.Sum(nil)), nil
}

// quarantine keeps a batch with malformed parts, and a note saying what
// was wrong, in QUEUE/bad/.
func (m *MTA) quarantine(batch, sum string, origin *config.Neighbour, errs []error) (string, error) {
	dir := filepath.Join(m.Queue.Dir, "bad")
	if err := owner.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	// Named by the batch's hash: the same batch received again (a toss
	// retried) is already kept.
	dst := filepath.Join(dir, sum[:32])
	if _, err := os.Stat(dst + ".err"); err == nil {
		return dst, nil
	}
	if err := copyFile(batch, dst, m.Queue.NoSync); err != nil {
		return "", err
	}
	var note bytes.Buffer
	fmt.Fprintf(&note, "From node: %s (%s)\nReceived: %s\nSHA-256: %s\n", origin.Name, origin.ID, m.Now().UTC().Format(time.RFC3339), sum)
	for _, e := range errs {
		fmt.Fprintf(&note, "Error: %v\n", e)
	}
	if err := safeio.WriteFile(dst+".err", note.Bytes(), safeio.Options{NoSync: m.Queue.NoSync}); err != nil {
		return "", err
	}
	owner.Inherit(dst + ".err")
	return dst, nil
}

// copyFile copies src to dst durably, unless dst is there already (the
// same batch, named by its hash).
func copyFile(src, dst string, noSync bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := safeio.Create(dst, safeio.Options{NoSync: noSync})
	if err != nil {
		return err
	}
	owner.File(out.OS())
	defer out.Abort()
	if _, err := out.ReadFrom(in); err != nil {
		return err
	}
	_, err = out.CommitIfAbsent(dst)
	return err
}

// receivedHeader is the trace line this node adds to mail it takes from a
// neighbour.
func (m *MTA) receivedHeader(origin *config.Neighbour, id string, to []string, at time.Time) string {
	forPart := ""
	if len(to) == 1 {
		forPart = "\n\tfor <" + to[0] + ">"
	}
	return fmt.Sprintf("Received: from %s (NNCP node %s)\n\tby %s (ferry) with NNCP id %s%s;\n\t%s\n",
		origin.Name, origin.ID, m.Domain(), id, forPart, at.Format(time.RFC1123Z))
}

const maxHops = 50

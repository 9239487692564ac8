package sp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"ferry/internal/logrec"
	"ferry/internal/node"
	"ferry/internal/wire"
)

// This file handles what the peer sends: INFO, FREQ, FILE, DONE, HALT.

func (s *session) handlePayload(b []byte, first bool) error {
	pkts, err := wire.ParseSPPayload(b)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	var infos, size int64
	for i := range pkts {
		p := &pkts[i]
		if p.Type != wire.SPPing && p.Type != wire.SPHalt || !first && p.Type == wire.SPHalt {
			s.mu.Lock()
			s.lastRecv = time.Now()
			s.mu.Unlock()
		}
		switch p.Type {
		case wire.SPInfo:
			infos++
			size += int64(p.Size)
			s.onInfo(p)
		case wire.SPFreq:
			s.onFreq(p)
		case wire.SPFile:
			if err := s.onFile(p); err != nil {
				return err
			}
		case wire.SPDone:
			s.onDone(p)
		case wire.SPHalt:
			if !first {
				s.mu.Lock()
				s.retired = append(s.retired, s.files...)
				s.files = nil
				s.mu.Unlock()
			}
		}
	}
	if first && infos > 0 {
		s.log("sp-infos-rx", []logrec.Field{fld("XX", "rx"), fld("Node", s.peer.ID.String()),
			fld("Pkts", itoa(infos)), fld("Size", itoa(size))},
			fmt.Sprintf("%s has got for us: %d packets, %s", s.peer.Name, infos, humanSize(size)))
	}
	return nil
}

func (s *session) onInfo(p *wire.SPPacket) {
	name := node.B32.EncodeToString(p.Hash[:])
	s.mu.Lock()
	s.result.Offers = append(s.result.Offers, Info{Name: name, Nice: p.Nice, Size: int64(p.Size)})
	s.mu.Unlock()
	if p.Nice > s.o.Nice {
		s.debug("%s: %s too nice (%d)", s.peer.Name, name, p.Nice)
		return
	}
	st, err := s.o.Store.RxState(s.peer.ID, name)
	if err != nil {
		s.logErr("sp-info", []logrec.Field{fld("Node", s.peer.ID.String()), fld("Pkt", name)}, err,
			fmt.Sprintf("Packet %s: state", name))
		return
	}
	offset := max(st.Part, 0)
	s.log("sp-info", []logrec.Field{fld("Node", s.peer.ID.String()), fld("Nice", itoa(int64(s.o.Nice))),
		fld("Type", "info"), fld("Pkt", name), fld("Size", itoa(int64(p.Size))),
		fld("PktNice", itoa(int64(p.Nice))), fld("Offset", itoa(offset))},
		fmt.Sprintf("Packet %s (%s) (nice %s): %d%%", name, humanSize(int64(p.Size)), node.NiceString(p.Nice),
			percent(offset, int64(p.Size))))
	if s.o.List || s.o.NoRx {
		return
	}
	if s.o.Pkts != nil && !s.o.Pkts[name] {
		return
	}
	if st.Have {
		s.queueCtrl(wire.SPPacket{Type: wire.SPDone, Hash: p.Hash})
		return
	}
	if st.NoCK {
		return
	}
	s.mu.Lock()
	r := s.rx[name]
	if r != nil && (r.fetched || r.done) {
		s.mu.Unlock()
		return
	}
	if r == nil {
		r = &rxFile{}
		s.rx[name] = r
	}
	if offset > int64(p.Size) {
		// A part longer than the packet: fetched again from 0 (its
		// checksum fails and it is replaced).
		offset = 0
	}
	r.size, r.nice, r.fetched, r.written = int64(p.Size), p.Nice, true, offset
	s.mu.Unlock()
	s.queueCtrl(wire.SPPacket{Type: wire.SPFreq, Hash: p.Hash, Offset: uint64(offset)})
}

func percent(n, of int64) int64 {
	if of <= 0 {
		return 100
	}
	return n * 100 / of
}

func (s *session) onFreq(p *wire.SPPacket) {
	name := node.B32.EncodeToString(p.Hash[:])
	s.mu.Lock()
	tp, offered := s.offered[name]
	for _, j := range s.files {
		if j.hash == p.Hash {
			j.offset = int64(p.Offset)
			s.mu.Unlock()
			s.notify()
			return
		}
	}
	s.mu.Unlock()
	if !offered || s.o.NoTx {
		s.debug("%s asks for %s, not offered", s.peer.Name, name)
		return
	}
	j := &sendJob{name: name, hash: p.Hash, nice: tp.Nice, offset: int64(p.Offset), size: tp.Size}
	if j.offset > j.size {
		j.offset = j.size
	}
	s.mu.Lock()
	at := len(s.files)
	for k, o := range s.files {
		if o.nice > j.nice {
			at = k
			break
		}
	}
	s.files = slices.Insert(s.files, at, j)
	s.mu.Unlock()
	s.notify()
}

func (s *session) onFile(p *wire.SPPacket) error {
	name := node.B32.EncodeToString(p.Hash[:])
	s.mu.Lock()
	r := s.rx[name]
	if r == nil || !r.fetched || r.done {
		s.mu.Unlock()
		s.debug("%s sends %s, not asked for", s.peer.Name, name)
		return nil
	}
	end := int64(p.Offset) + int64(len(p.Chunk))
	if end > r.size {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s: chunk up to %d of a %d-byte packet", ErrProtocol, name, end, r.size)
	}
	if r.part == nil {
		part, err := s.o.Store.OpenPart(s.peer.ID, name)
		if err != nil {
			r.fetched = false
			s.mu.Unlock()
			s.logErr("sp-file", []logrec.Field{fld("Node", s.peer.ID.String()), fld("Pkt", name)}, err,
				fmt.Sprintf("Packet %s: opening part", name))
			return nil
		}
		r.part = part
		if s.o.Progress != nil && r.meter == nil {
			r.meter = s.o.Progress(&Event{Peer: s.peer.ID, PeerName: s.peer.Name, XX: "rx", Name: name, Size: r.size, Offset: int64(p.Offset)})
		}
	}
	part, meter := r.part, r.meter
	s.mu.Unlock()
	if _, err := part.WriteAt(p.Chunk, int64(p.Offset)); err != nil {
		return fmt.Errorf("writing %s.part: %w", name, err)
	}
	if meter != nil {
		meter.Add(int64(len(p.Chunk)))
	}
	s.mu.Lock()
	r.written = max(r.written, end)
	complete := r.written >= r.size
	if complete {
		r.done = true
		r.part, r.meter = nil, nil
		s.commitQ = append(s.commitQ, rxCommit{name: name, hash: p.Hash, r: r, part: part})
	}
	s.mu.Unlock()
	if complete && meter != nil {
		meter.Done()
	}
	if complete {
		select {
		case s.commitWake <- struct{}{}:
		default:
		}
	}
	return nil
}

var errChecksumMismatch = errors.New("checksum mismatch")

// rxCommit is a complete part waiting for the committer.
type rxCommit struct {
	name string
	hash [32]byte
	r    *rxFile
	part Part
}

// maxCommitBatch bounds a batch, so that DONEs keep flowing while many
// small packets arrive: a peer hangs up after onlinedeadline seconds
// without a packet (one second, say) even when DONEs are only late.
const maxCommitBatch = 64

// committer commits the parts completed while the previous batch was
// being committed, together (one directory fsync for the lot, at most
// maxCommitBatch of them), then acknowledges them: the DONEs of a batch
// go out once all of it is durable. It returns when ctx ends and nothing
// waits.
func (s *session) committer(ctx context.Context) {
	for {
		s.mu.Lock()
		n := min(len(s.commitQ), maxCommitBatch)
		batch := slices.Clone(s.commitQ[:n])
		s.commitQ = s.commitQ[n:]
		s.committing = n > 0
		s.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-s.commitWake:
				continue
			case <-ctx.Done():
				s.mu.Lock()
				n := len(s.commitQ)
				s.mu.Unlock()
				if n == 0 {
					return
				}
				continue
			}
		}
		s.commitBatch(batch)
		s.mu.Lock()
		s.committing = false
		s.mu.Unlock()
	}
}

// commitBatch checks, commits and acknowledges complete parts.
func (s *session) commitBatch(batch []rxCommit) {
	parts := make([]Part, len(batch))
	for i, c := range batch {
		parts[i] = c.part
	}
	errs := s.o.Store.CommitParts(s.peer.ID, parts, s.o.NoCK)
	var dones []wire.SPPacket
	for i, c := range batch {
		var err error
		if i < len(errs) {
			err = errs[i]
		}
		if s.finishRx(c.name, c.hash, c.r, err) && !s.o.NoCK {
			dones = append(dones, wire.SPPacket{Type: wire.SPDone, Hash: c.hash})
		}
	}
	if len(dones) > 0 {
		s.mu.Lock()
		s.ctrl = append(s.ctrl, dones...)
		s.mu.Unlock()
		s.notify()
	}
}

// finishRx logs a committed part (err: why it was not), asks again for a
// part whose checksum failed, and reports whether it is now received.
func (s *session) finishRx(name string, hash [32]byte, r *rxFile, err error) bool {
	f := []logrec.Field{fld("Node", s.peer.ID.String()), fld("Nice", itoa(int64(s.o.Nice))), fld("Type", "file"),
		fld("XX", "rx"), fld("Pkt", name), fld("Size", itoa(r.size)), fld("FullSize", itoa(r.size))}
	if err != nil {
		if errors.Is(err, ErrChecksum) {
			// As nncp-call logs it (checked against the binary).
			s.logErr("sp-file-bad-checksum", f, errChecksumMismatch,
				fmt.Sprintf("Got packet %s 100%% (%s / %s)", name, humanSize(r.size), humanSize(r.size)))
		} else {
			s.logErr("sp-file-check", f, err, fmt.Sprintf("Got packet %s: checksum", name))
		}
		if errors.Is(err, ErrChecksum) {
			s.mu.Lock()
			retry := !r.retried
			r.retried, r.done, r.written, r.fetched = true, false, 0, retry
			s.mu.Unlock()
			if retry {
				s.queueCtrl(wire.SPPacket{Type: wire.SPFreq, Hash: hash, Offset: 0})
			}
		}
		return false
	}
	s.log("sp-file-done", f, fmt.Sprintf("Got packet %s 100%% (%s / %s): done", name, humanSize(r.size), humanSize(r.size)))
	s.mu.Lock()
	s.result.Received = append(s.result.Received, name)
	s.mu.Unlock()
	if s.o.OnEvent != nil {
		s.o.OnEvent(Event{Peer: s.peer.ID, PeerName: s.peer.Name, XX: "rx", Name: name, Size: r.size})
	}
	return true
}

func (s *session) onDone(p *wire.SPPacket) {
	name := node.B32.EncodeToString(p.Hash[:])
	s.mu.Lock()
	_, offered := s.offered[name]
	var size int64
	for i, j := range s.files {
		if j.hash == p.Hash {
			s.retired = append(s.retired, j)
			size = j.size
			s.files = slices.Delete(s.files, i, i+1)
			break
		}
	}
	s.mu.Unlock()
	if !offered {
		return
	}
	if err := s.o.Store.RemoveTx(s.peer.ID, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.logErr("sp-done", []logrec.Field{fld("Node", s.peer.ID.String()), fld("Pkt", name)}, err,
			fmt.Sprintf("Packet %s: removing", name))
		return
	}
	s.log("sp-done", []logrec.Field{fld("Node", s.peer.ID.String()), fld("Nice", itoa(int64(s.o.Nice))),
		fld("Type", "done"), fld("Pkt", name), fld("XX", "tx")}, fmt.Sprintf("Packet %s is sent", name))
	s.mu.Lock()
	s.result.Sent = append(s.result.Sent, name)
	s.mu.Unlock()
	if s.o.OnEvent != nil {
		s.o.OnEvent(Event{Peer: s.peer.ID, PeerName: s.peer.Name, XX: "tx", Name: name, Size: size})
	}
}

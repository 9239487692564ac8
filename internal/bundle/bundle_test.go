package bundle

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"ferry/internal/node"
	"ferry/internal/spool"
	"ferry/internal/testnet/vectors"
)

type vpkt struct {
	file, id string
}

// The vector bundles' packets, in the order nncp-bundle wrote them.
var (
	satToHub = []vpkt{
		{"06-trns-sat-to-far-via-hub.pkt", "444N2QZFPKDJ43UGGGWPXM7DX5T44B4NCBEAXXJO7ZMARKKMMSIA"},
		{"04-exec-args-sat-to-hub.pkt", "ZPK6KQIYRNG3D2IH6NRAZW56Z3GMH6XYVLS3MTACWJD44OAQ535Q"},
		{"05-execfat-sat-to-hub.pkt", "YQSWPONI6FYSIB32LEWHD5ZNZLNSOJRP23AHW72STOFVTH67SVEA"},
		{"01-file-sat-to-hub.pkt", "2SUDIMZ5O2BDRYV3N5T23Z5BCYTDD5ECM25GYEVVW2CJVCQSKVBA"},
		{"02-freq-sat-to-hub.pkt", "RQ52TR4JD3J27PWBPMYMKIFZSJC6HSEYWMXQH4LZIAMZQN3G6TJA"},
		{"03-exec-rsmtp-sat-to-hub.pkt", "7IE5HKF5DFZ43TBGL6O34P6KELFYKC3XKD5YBRK4QSZ3CXK5AZUQ"},
	}
	hubToSat = []vpkt{
		{"09-file-hub-to-sat-freq-reply.pkt", "OTM4WHTZ44WBQRCEAUHFNW7225Z5PF74PHZW35S6ODKENJIV5D5Q"},
		{"08-ack-hub-to-sat.pkt", "AHIKFS4OKLBPV2XIA2UNQKE2TTCMAATROGYAIPBJBK44DTTNR5PQ"},
	}
)

func ids(t *testing.T) (sat, hub node.ID) {
	return vectors.Node(t, "sat").ID, vectors.Node(t, "hub").ID
}

// TestWriterVectors writes the vector bundles' packets and demands the
// bytes nncp-bundle wrote.
func TestWriterVectors(t *testing.T) {
	sat, hub := ids(t)
	for _, c := range []struct {
		file     string
		to, from node.ID
		pkts     []vpkt
	}{{"bundle/sat-to-hub.pax", hub, sat, satToHub}, {"bundle/hub-to-sat.pax", sat, hub, hubToSat}} {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			for _, p := range c.pkts {
				b := vectors.Read(t, "packets/"+p.file)
				if err := w.WritePacket(c.to, c.from, p.id, int64(len(b)), bytes.NewReader(b)); err != nil {
					t.Fatal(err)
				}
			}
			want := vectors.Read(t, c.file)
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("bundle differs from nncp-bundle's: %d vs %d bytes", buf.Len(), len(want))
			}
		})
	}
}

func TestWriterShortSource(t *testing.T) {
	sat, hub := ids(t)
	err := NewWriter(io.Discard).WritePacket(hub, sat, satToHub[0].id, 100, bytes.NewReader(make([]byte, 10)))
	if err == nil {
		t.Fatal("a source shorter than its size was accepted")
	}
}

type got struct {
	name string
	data []byte
}

func readAll(t *testing.T, r io.Reader) ([]got, error) {
	t.Helper()
	br := NewReader(r)
	var out []got
	for {
		e, err := br.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		b, err := io.ReadAll(br)
		if err != nil {
			return out, err
		}
		if int64(len(b)) != e.Size {
			t.Fatalf("%s: read %d of %d", e.Name, len(b), e.Size)
		}
		out = append(out, got{e.Pkt, b})
	}
}

func wantPkts(t *testing.T, g []got, pkts ...[]vpkt) {
	t.Helper()
	var all []vpkt
	for _, p := range pkts {
		all = append(all, p...)
	}
	if len(g) != len(all) {
		t.Fatalf("read %d packets, want %d", len(g), len(all))
	}
	for i, p := range all {
		if g[i].name != p.id || !bytes.Equal(g[i].data, vectors.Read(t, "packets/"+p.file)) {
			t.Errorf("packet %d: got %s (%d bytes), want %s", i, g[i].name, len(g[i].data), p.id)
		}
	}
}

func TestReaderVectors(t *testing.T) {
	s2h := vectors.Read(t, "bundle/sat-to-hub.pax")
	h2s := vectors.Read(t, "bundle/hub-to-sat.pax")
	garbage := make([]byte, 2000)
	rand.Read(garbage)
	zeros := make([]byte, 10240)
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, c := range []struct {
		name   string
		stream []byte
		want   [][]vpkt
	}{
		{"sat-to-hub", s2h, [][]vpkt{satToHub}},
		{"hub-to-sat", h2s, [][]vpkt{hubToSat}},
		{"appended", cat(s2h, h2s), [][]vpkt{satToHub, hubToSat}},
		{"garbage around", cat(garbage, s2h, garbage[:777], h2s, garbage[:100]), [][]vpkt{satToHub, hubToSat}},
		{"tape padding", cat(h2s, zeros, s2h, zeros), [][]vpkt{hubToSat, satToHub}},
		{"empty", nil, nil},
		{"only garbage", garbage, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A reader that returns one byte at a time exercises the
			// buffer refills.
			for _, r := range []io.Reader{bytes.NewReader(c.stream), &oneByte{bytes.NewReader(c.stream)}} {
				g, err := readAll(t, r)
				if err != nil {
					t.Fatal(err)
				}
				wantPkts(t, g, c.want...)
			}
		})
	}
}

type oneByte struct{ r io.Reader }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

func TestReaderTruncated(t *testing.T) {
	s2h := vectors.Read(t, "bundle/sat-to-hub.pax")
	// Cut inside the second packet's content (it starts at 2048+1024).
	for _, cut := range []int{3072 + 10, 3072 + 523, 2048 + 1024 - 1, 2560, 2560 + 300} {
		g, err := readAll(t, bytes.NewReader(s2h[:cut]))
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("cut at %d: err %v, want ErrTruncated", cut, err)
		}
		if len(g) != 1 {
			t.Errorf("cut at %d: %d whole packets before the cut, want 1", cut, len(g))
		}
	}
	// Skipping the content of a truncated entry also notices.
	br := NewReader(bytes.NewReader(s2h[:3072+10]))
	br.Next()
	br.Next()
	if _, err := br.Next(); !errors.Is(err, ErrTruncated) {
		t.Errorf("skipping a truncated entry: err %v", err)
	}
}

func TestParseName(t *testing.T) {
	sat, hub := ids(t)
	r, s, p, err := ParseName(Name(hub, sat, satToHub[0].id))
	if err != nil || r != hub || s != sat || p != satToHub[0].id {
		t.Fatalf("round trip: %v %v %v %v", r, s, p, err)
	}
	for _, bad := range []string{"NNCP", "NNCP/x/y/z", "X/" + hub.String() + "/" + sat.String() + "/" + satToHub[0].id,
		"NNCP/" + hub.String() + "/" + sat.String() + "/short", "NNCP/" + hub.String() + "/" + sat.String() + "/" + satToHub[0].id + "/x"} {
		if _, _, _, err := ParseName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

func newSpool(t *testing.T) *spool.Spool {
	s, err := spool.Open(t.TempDir(), spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tmpEmpty(t *testing.T, s *spool.Spool) {
	t.Helper()
	ents, _ := os.ReadDir(s.TmpDir())
	if len(ents) != 0 {
		t.Errorf("tmp/ keeps %d files", len(ents))
	}
}

// TestRxTxSpool receives the vector bundle into hub's spool, refuses a
// corrupted packet and a truncated stream cleanly, and writes the bundle
// back out of a spool byte for byte.
func TestRxTxSpool(t *testing.T) {
	sat, hub := ids(t)
	s2h := vectors.Read(t, "bundle/sat-to-hub.pax")
	known := func(id node.ID) bool { return id == sat }

	t.Run("rx", func(t *testing.T) {
		s := newSpool(t)
		var evs []*Event
		o := Options{Self: hub, Known: known, Report: func(e *Event) { evs = append(evs, e) }}
		failed, err := Rx(s, bytes.NewReader(s2h), o)
		if err != nil || failed != 0 || len(evs) != 6 {
			t.Fatalf("failed %d, err %v, %d events", failed, err, len(evs))
		}
		for _, p := range satToHub {
			b, err := os.ReadFile(s.PktPath(sat, spool.RX, p.id))
			if err != nil || !bytes.Equal(b, vectors.Read(t, "packets/"+p.file)) {
				t.Errorf("%s: %v", p.id, err)
			}
		}
		// Again: everything is there already.
		evs = nil
		Rx(s, bytes.NewReader(s2h), o)
		for _, e := range evs {
			if e.Kind != Skipped || e.Skip != SkipExists {
				t.Errorf("second pass: %+v", e)
			}
		}
		tmpEmpty(t, s)
	})

	t.Run("corrupted", func(t *testing.T) {
		bad := bytes.Clone(s2h)
		bad[3072+300] ^= 0xff // inside the second packet
		for _, dry := range []bool{false, true} {
			s := newSpool(t)
			var evs []*Event
			o := Options{Self: hub, Known: known, DryRun: dry, Report: func(e *Event) { evs = append(evs, e) }}
			failed, err := Rx(s, bytes.NewReader(bad), o)
			if err != nil || failed != 1 {
				t.Fatalf("dry %v: failed %d, err %v", dry, failed, err)
			}
			if evs[1].Kind != Failed || !errors.Is(evs[1].Err, ErrBadChecksum) || evs[1].Pkt != satToHub[1].id {
				t.Errorf("dry %v: event %+v", dry, evs[1])
			}
			if _, err := os.Stat(s.PktPath(sat, spool.RX, satToHub[1].id)); err == nil {
				t.Errorf("dry %v: the corrupted packet was stored", dry)
			}
			n, _ := s.Names(sat, spool.RX)
			if want := 5; dry {
				if len(n) != 0 {
					t.Errorf("dry run stored %d packets", len(n))
				}
			} else if len(n) != want {
				t.Errorf("%d packets stored, want %d", len(n), want)
			}
			tmpEmpty(t, s)
		}
	})

	t.Run("truncated", func(t *testing.T) {
		s := newSpool(t)
		_, err := Rx(s, bytes.NewReader(s2h[:3500]), Options{Self: hub, Known: known})
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("err %v", err)
		}
		n, _ := s.Names(sat, spool.RX)
		if len(n) != 1 {
			t.Errorf("%d packets stored, want the 1 whole one", len(n))
		}
		tmpEmpty(t, s)
	})

	t.Run("foreign and filtered", func(t *testing.T) {
		far := vectors.Node(t, "far").ID
		for _, o := range []Options{{Self: far}, {Self: hub, Nodes: []node.ID{far}}, {Self: hub, Known: func(node.ID) bool { return false }}, {Self: hub, MaxNice: 32}} {
			s := newSpool(t)
			var evs []*Event
			o.Report = func(e *Event) { evs = append(evs, e) }
			if _, err := Rx(s, bytes.NewReader(s2h), o); err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.Kind != Skipped {
					t.Errorf("%+v", e)
				}
			}
		}
	})

	t.Run("tx and own check", func(t *testing.T) {
		s := newSpool(t)
		for _, p := range satToHub {
			dir := s.QueueDir(hub, spool.TX)
			os.MkdirAll(dir, 0o755)
			if err := os.WriteFile(filepath.Join(dir, p.id), vectors.Read(t, "packets/"+p.file), 0o444); err != nil {
				t.Fatal(err)
			}
		}
		order, _ := s.Names(hub, spool.TX)
		var buf bytes.Buffer
		var evs []*Event
		failed, err := Tx(s, &buf, Options{Self: sat, Nodes: []node.ID{hub}, Report: func(e *Event) { evs = append(evs, e) }})
		if err != nil || failed != 0 || len(evs) != 6 {
			t.Fatalf("failed %d, err %v, %d events", failed, err, len(evs))
		}
		g, err := readAll(t, bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		for i := range g {
			if g[i].name != order[i] {
				t.Errorf("entry %d is %s, want directory order %s", i, g[i].name, order[i])
			}
		}
		// Corrupt one packet of the stream: -rx -delete removes the five
		// intact ones from tx/ and keeps the other.
		bad := buf.Bytes()
		bad[3072+300] ^= 0xff
		evs = nil
		failed, err = Rx(s, bytes.NewReader(bad), Options{Self: sat, Delete: true, Report: func(e *Event) { evs = append(evs, e) }})
		if err != nil || failed != 1 {
			t.Fatalf("failed %d, err %v", failed, err)
		}
		left, _ := s.Names(hub, spool.TX)
		if len(left) != 1 || left[0] != order[1] {
			t.Errorf("tx/ keeps %v, want [%s]", left, order[1])
		}
	})
}

// FuzzReader feeds arbitrary streams to the reader: it must not panic or
// loop, and whatever it returns must be whole entries.
func FuzzReader(f *testing.F) {
	f.Add([]byte{})
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "testdata", "nncp-8.8.2", "bundle", "hub-to-sat.pax")); err == nil {
		f.Add(b)
		f.Add(b[:1500])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		br := NewReader(bytes.NewReader(b))
		for i := 0; i < 1000; i++ {
			e, err := br.Next()
			if err != nil {
				return
			}
			n, err := io.Copy(io.Discard, br)
			if err == nil && n != e.Size {
				t.Fatalf("entry of %d bytes read as %d", e.Size, n)
			}
		}
	})
}

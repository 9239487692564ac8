package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"

	"ferry/internal/node"
	"ferry/internal/pktcrypt"
	"ferry/internal/toss"
	"ferry/internal/wire"
)

func init() {
	register("pkt", &command{summary: "parse raw packet", run: runPkt, nncp: true})
}

// payloadNames are the payload types as nncp-pkt prints them.
var payloadNames = map[wire.Type]string{
	wire.TypeFile:    "file",
	wire.TypeFreq:    "file request",
	wire.TypeExec:    "exec compressed",
	wire.TypeTrns:    "transitional",
	wire.TypeExecFat: "exec uncompressed",
	wire.TypeArea:    "area",
	wire.TypeACK:     "acknowledgement",
}

// errPktShort and errPktUnknown are nncp-pkt's two ways of not
// recognising its input.
var (
	errPktShort   = errors.New("not enough data to read")
	errPktUnknown = errors.New("unable to determine packet type")
)

func runPkt(x *ctx, args []string) error {
	fs := x.flags("[options]")
	dump := fs.Bool("dump", false, "Write decrypted/parsed payload to stdout")
	decompress := fs.Bool("decompress", false, "Try to zstd decompress dumped data")
	overheads := fs.Bool("overheads", false, "Print packet overheads")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintln(x.Stderr, "Packet is read from stdin.")
	}
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitCode(2, nil)
	}
	if *overheads {
		// Constants: unlike nncp-pkt, no config is needed for them.
		fmt.Fprintf(x.Stdout, "Plain: %d\nEncrypted: %d\nSize: %d\n",
			wire.PlainHeaderSize, wire.EncHeaderSize, wire.SizeStructSize)
		return nil
	}
	if err := x.load(); err != nil {
		return err
	}
	out := bufio.NewWriterSize(x.Stdout, 128*1024)
	err := x.pkt(out, x.Stdin, *dump, *decompress)
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = ferr
	}
	return err
}

// pkt reads one packet from in. Without dump it prints the header of an
// encrypted or plain packet. With dump it writes an encrypted packet's
// plain packet (decrypted with our keys; checked against the sender's
// signature when the sender is a known node), or a plain packet's
// payload. With decompress a plain packet's payload is zstd-decompressed
// (whatever its type, as nncp-pkt does); for an encrypted packet, the
// body of the exec packet inside it is decompressed, where nncp-pkt 8.8.2
// wrote the plain packet unchanged (as ferry still does for other types).
func (x *ctx) pkt(w io.Writer, in io.Reader, dump, decompress bool) error {
	var head [wire.PlainHeaderSize]byte
	n, err := io.ReadFull(in, head[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return err
	}
	if n < 8 {
		return errPktShort
	}
	switch {
	case bytes.HasPrefix(head[:n], wire.MagicEncrypted[:5]):
		if n < wire.EncHeaderSize {
			return errPktShort
		}
		h, err := wire.ParseEncHeader(head[:wire.EncHeaderSize])
		if err != nil {
			return err
		}
		if !dump {
			fmt.Fprintf(w, "Packet type: encrypted\nNiceness: %s (%d)\nSender: %s (%s)\nRecipient: %s (%s)\n",
				node.NiceString(h.Nice), h.Nice, h.Sender, x.pktNodeName(h.Sender), h.Recipient, x.pktNodeName(h.Recipient))
			return nil
		}
		self, err := x.self()
		if err != nil {
			return err
		}
		rest := io.MultiReader(bytes.NewReader(head[wire.EncHeaderSize:n]), in)
		var d *pktcrypt.Decrypter
		if sender, ok := x.cfg.ByID[h.Sender]; ok {
			d, err = pktcrypt.NewDecrypter(rest, &h, self, &sender.Public)
		} else {
			d, err = pktcrypt.NewDecrypterUnverified(rest, &h, self)
		}
		if err != nil {
			return err
		}
		if !decompress {
			_, err = io.Copy(w, d)
			return err
		}
		var inner [wire.PlainHeaderSize]byte
		if _, err := io.ReadFull(d, inner[:]); err != nil {
			return fmt.Errorf("plain packet inside: %w", err)
		}
		ih, err := wire.ParsePlainHeader(inner[:])
		if err != nil {
			return err
		}
		if ih.Type == wire.TypeExec {
			return unzstd(w, d)
		}
		w.Write(inner[:])
		_, err = io.Copy(w, d)
		return err
	case bytes.HasPrefix(head[:n], wire.MagicPlain[:5]):
		if n < wire.PlainHeaderSize {
			return errPktShort
		}
		h, err := wire.ParsePlainHeader(head[:])
		if err != nil {
			return err
		}
		if !dump {
			fmt.Fprintf(w, "Packet type: plain\nPayload type: %s\nNiceness: %s (%d)\nPath: %s\n",
				payloadNames[h.Type], node.NiceString(h.Nice), h.Nice, x.pktPath(&h))
			return nil
		}
		if decompress {
			return unzstd(w, in)
		}
		_, err = io.Copy(w, in)
		return err
	case bytes.HasPrefix(head[:n], wire.MagicArea[:5]):
		return toss.ErrArea
	}
	return errPktUnknown
}

// unzstd decompresses a zstd stream from r to w.
func unzstd(w io.Writer, r io.Reader) error {
	z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return err
	}
	defer z.Close()
	if _, err := io.Copy(w, z); err != nil {
		return fmt.Errorf("zstd: %w", err)
	}
	return nil
}

// pktNodeName is how nncp-pkt names a node: self, its name, or unknown.
func (x *ctx) pktNodeName(id node.ID) string {
	if x.cfg.Self != nil && id == x.cfg.Self.ID {
		return "self"
	}
	if n, ok := x.cfg.ByID[id]; ok {
		return n.Name
	}
	return "unknown"
}

// pktPath renders a plain header's path as nncp-pkt does: exec arguments
// separated by spaces, node and packet ids in Base32 (a relay's next hop
// followed by its name when known).
func (x *ctx) pktPath(h *wire.PlainHeader) string {
	switch h.Type {
	case wire.TypeExec, wire.TypeExecFat:
		return string(bytes.ReplaceAll(h.Path, []byte{0}, []byte{' '}))
	case wire.TypeTrns:
		s := node.B32.EncodeToString(h.Path)
		if len(h.Path) == node.IDSize {
			if n, ok := x.cfg.ByID[node.ID(h.Path)]; ok {
				s += " (" + n.Name + ")"
			}
		}
		return s
	case wire.TypeACK:
		return node.B32.EncodeToString(h.Path)
	case wire.TypeArea:
		s := node.B32.EncodeToString(h.Path)
		for name, a := range x.cfg.Areas {
			if len(h.Path) == node.IDSize && a.ID == node.ID(h.Path) {
				s += " (" + name + ")"
			}
		}
		return s
	}
	return string(h.Path)
}

package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"ferry/internal/mth"
)

func init() {
	register("hash", &command{summary: "print the MTH hash of stdin or a file", run: runHash, nncp: true})
}

func runHash(x *ctx, args []string) error {
	fs := x.flags("[-file ...] [-seek X] [-debug] [-progress] [options]")
	file := fs.String("file", "", "Read the file instead of stdin")
	seek := fs.Uint64("seek", 0, "Seek the file, hash, rewind, hash remaining")
	fs.Bool("force-fat", false, "Force MTHFat implementation usage (ferry has one implementation; accepted and ignored)")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitCode(2, nil)
	}
	if *seek > 0 && *file == "" {
		return errors.New("-file is required with -seek")
	}
	var in io.ReadSeeker
	size := int64(-1)
	if *file == "" {
		in = &noSeek{x.Stdin}
	} else {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		in = f
	}
	// -progress alone decides: nncp-hash draws no bar unless asked.
	var b *bar
	if x.progress {
		b = x.newBar(size, "hash")
		defer b.finish()
	}
	var report func(mth.Step)
	if x.debug {
		leaf, node := mth.Keys()
		// On stdout, before the hash, as nncp-hash prints them.
		fmt.Fprintf(x.Stdout, "Leaf BLAKE3 key: %x\nNode BLAKE3 key: %x\n", leaf, node)
		report = func(s mth.Step) {
			fmt.Fprintf(x.Stdout, "%s\t%03d\t%06d\t%x\n", s.Op, s.Level, s.Index, s.Sum)
		}
	}
	sum, err := hashStream(in, int64(*seek), report, b)
	if err != nil {
		return err
	}
	fmt.Fprintf(x.Stdout, "%x\n", sum)
	return nil
}

// noSeek is stdin: it is read in order, never sought.
type noSeek struct{ io.Reader }

func (noSeek) Seek(int64, int) (int64, error) { return 0, errors.New("cannot seek stdin") }

// hashStream computes the MTH of in. Without seek and report it streams
// through mth.Hasher. Otherwise it goes leaf by leaf through mth.Tracer;
// with seek it does what nncp-hash -seek does: it starts at the first leaf
// boundary at or after seek, hashes to the end, then rewinds and hashes
// the leaves it skipped. The result is the same either way.
func hashStream(in io.ReadSeeker, seek int64, report func(mth.Step), b *bar) ([mth.Size]byte, error) {
	wrap := func(r io.Reader) io.Reader {
		if b != nil {
			return b.reader(r)
		}
		return r
	}
	if seek == 0 && report == nil {
		h := mth.New()
		if _, err := io.CopyBuffer(h, wrap(in), make([]byte, mth.BlockSize)); err != nil {
			return [mth.Size]byte{}, err
		}
		return h.Root(), nil
	}
	t := mth.NewTracer(report)
	buf := make([]byte, mth.BlockSize)
	// leaves reads leaves from the current position, numbering them from
	// first, up to limit leaves (-1: to the end). last is true for the
	// sequential hash, whose short final leaf Finish folds.
	leaves := func(r io.Reader, first, limit int64, last bool) error {
		for i := first; limit < 0 || i < first+limit; i++ {
			n, err := io.ReadFull(r, buf)
			switch {
			case n == len(buf):
				t.AddLeaf(i, buf)
			case n > 0 && last:
				t.AddLast(i, buf[:n])
			case n > 0:
				t.AddLeaf(i, buf[:n])
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	if seek == 0 {
		if err := leaves(wrap(in), 0, -1, true); err != nil {
			return [mth.Size]byte{}, err
		}
		return t.Finish(), nil
	}
	skip := (seek + mth.BlockSize - 1) / mth.BlockSize
	if _, err := in.Seek(skip*mth.BlockSize, io.SeekStart); err != nil {
		return [mth.Size]byte{}, err
	}
	if err := leaves(wrap(in), skip, -1, false); err != nil {
		return [mth.Size]byte{}, err
	}
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return [mth.Size]byte{}, err
	}
	if err := leaves(wrap(in), 0, skip, false); err != nil {
		return [mth.Size]byte{}, err
	}
	return t.Finish(), nil
}

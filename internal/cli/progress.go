package cli

import (
	"io"

	"github.com/schollz/progressbar/v3"
)

// bar is a progress bar on stderr, or nothing when progress is off.
type bar struct {
	pb *progressbar.ProgressBar
}

// newBar starts a bar for total bytes (-1: unknown).
func (x *ctx) newBar(total int64, desc string) *bar {
	if !x.showProgress() {
		return &bar{}
	}
	pb := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(x.Stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		// NNCP's units, as in the log: 300 MiB, not 315 MB.
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionShowCount(),
		progressbar.OptionClearOnFinish(),
	)
	return &bar{pb: pb}
}

func (b *bar) reader(r io.Reader) io.Reader {
	if b.pb == nil {
		return r
	}
	pr := progressbar.NewReader(r, b.pb)
	return &pr
}

func (b *bar) add(n int64) {
	if b.pb != nil {
		b.pb.Add64(n)
	}
}

func (b *bar) finish() {
	if b.pb != nil {
		b.pb.Finish()
	}
}

// meterThreshold: packets smaller than this get no bar (they are done
// before a bar could be read).
const meterThreshold = 1 << 20

// meter is a bar as the xfer and toss packages want it.
type meter struct{ b *bar }

func (m meter) Add(n int64) { m.b.add(n) }
func (m meter) Done()       { m.b.finish() }

// newMeter starts a bar for a copy of size bytes, or returns nil when
// progress is off or the copy is small.
func (x *ctx) newMeter(size int64, desc string) *meter {
	if !x.showProgress() || size < meterThreshold {
		return nil
	}
	return &meter{b: x.newBar(size, desc)}
}

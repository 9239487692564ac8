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

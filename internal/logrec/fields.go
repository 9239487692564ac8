package logrec

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"ferry/internal/node"
)

// F makes a field with any name (a recfile name: a letter or "%", then
// letters, digits, "_").
func F(name, value string) Field { return Field{Name: name, Value: value} }

// Node is the "Node" field: a node's Base32 id (logs never hold names here).
func Node(id node.ID) Field { return Field{"Node", id.String()} }

// Pkt is the "Pkt" field: a packet's Base32 MTH id.
func Pkt(id string) Field { return Field{"Pkt", id} }

// NewPkt is the "NewPkt" field (the ACK packet made for Pkt).
func NewPkt(id string) Field { return Field{"NewPkt", id} }

// Nice is the "Nice" field: niceness as a decimal number ("224", not "B").
func Nice(n uint8) Field { return Field{"Nice", strconv.Itoa(int(n))} }

// ReplyNice is the "ReplyNice" field of exec and freq tx records.
func ReplyNice(n uint8) Field { return Field{"ReplyNice", strconv.Itoa(int(n))} }

// Type is the "Type" field: file, freq, exec (exec-fat too), trns, ack.
func Type(t string) Field { return Field{"Type", t} }

// Size is the "Size" field, in bytes.
func Size(n int64) Field { return Field{"Size", strconv.FormatInt(n, 10)} }

// FullSize is the "FullSize" field, in bytes.
func FullSize(n int64) Field { return Field{"FullSize", strconv.FormatInt(n, 10)} }

// Src is the "Src" field (a local path, "-" for stdin, or the requested
// file of a freq).
func Src(s string) Field { return Field{"Src", s} }

// Dst is the "Dst" field (destination file name, exec handle and
// arguments joined by spaces, or a trns's next node id).
func Dst(s string) Field { return Field{"Dst", s} }

// XX is the "XX" field: direction, "rx" or "tx".
func XX(dir string) Field { return Field{"XX", dir} }

// Dir is the "Dir" field (an xfer directory).
func Dir(s string) Field { return Field{"Dir", s} }

// File is the "File" field (a path).
func File(s string) Field { return Field{"File", s} }

// Output is the "Output" field of a failed exec handle: its combined stdout
// and stderr with leading and trailing newlines removed, as NNCP writes it
// (inner newlines become continuation lines).
func Output(b []byte) Field { return Field{"Output", strings.Trim(string(b), "\n")} }

// HumanSize formats a size the way NNCP's messages do: "288 B", "8.3 KiB",
// "882 KiB", "1.0 MiB" (IEC units, one decimal below 10).
func HumanSize(n int64) string {
	if n < 0 {
		return "-" + HumanSize(-n)
	}
	if n < 10 {
		return fmt.Sprintf("%d B", n)
	}
	// The rounding of the go-humanize release NNCP 8.8.2 was built with
	// (newer releases print 12825 bytes as "13 KiB", NNCP as "12 KiB").
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	e := math.Floor(math.Log(float64(n)) / math.Log(1024))
	val := math.Floor(float64(n)/math.Pow(1024, e)*10+0.5) / 10
	f := "%.0f %s"
	if val < 10 {
		f = "%.1f %s"
	}
	return fmt.Sprintf(f, val, units[int(e)])
}

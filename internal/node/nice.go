package node

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Niceness levels: lower is more urgent. 1..255; the aliases sit at 32, 96,
// 160 and 224 and take deltas (P-31 .. P+32).
const (
	NiceFlash    uint8 = 32
	NicePriority uint8 = 96
	NiceNormal   uint8 = 160
	NiceBulk     uint8 = 224
	NiceMax      uint8 = 255
)

// ErrBadNice is returned for text that names no niceness level.
var ErrBadNice = errors.New("invalid niceness")

var niceAliases = []struct {
	long, short string
	base        int
}{
	{"FLASH", "F", int(NiceFlash)},
	{"PRIORITY", "P", int(NicePriority)},
	{"NORMAL", "N", int(NiceNormal)},
	{"BULK", "B", int(NiceBulk)},
}

// ParseNice reads a niceness: an integer 1..255, or an alias (FLASH/F,
// PRIORITY/P, NORMAL/N, BULK/B, MAX; any case) with an optional +N or -N
// delta, e.g. "P+3", "bulk-10".
func ParseNice(s string) (uint8, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("%w: empty", ErrBadNice)
	}
	if t == "MAX" {
		return NiceMax, nil
	}
	if n, err := strconv.Atoi(t); err == nil {
		if n < 1 || n > 255 {
			return 0, fmt.Errorf("%w: %d is outside 1..255", ErrBadNice, n)
		}
		return uint8(n), nil
	}
	for _, a := range niceAliases {
		var rest string
		switch {
		case strings.HasPrefix(t, a.long):
			rest = t[len(a.long):]
		case strings.HasPrefix(t, a.short) && (len(t) == 1 || t[1] == '+' || t[1] == '-'):
			rest = t[1:]
		default:
			continue
		}
		v := a.base
		if rest != "" {
			if rest[0] != '+' && rest[0] != '-' {
				break
			}
			d, err := strconv.Atoi(rest)
			if err != nil {
				return 0, fmt.Errorf("%w: %q", ErrBadNice, s)
			}
			v += d
		}
		if v < 1 || v > 255 || (rest != "" && (v < a.base-31 || v > a.base+32)) {
			return 0, fmt.Errorf("%w: %q is out of range", ErrBadNice, s)
		}
		return uint8(v), nil
	}
	return 0, fmt.Errorf("%w: %q (want 1..255, or F, P, N, B, MAX with an optional +N/-N)", ErrBadNice, s)
}

// NiceString formats a niceness the way the NNCP 8.8.2 binary prints it:
// "B", "P+3", "N-30", "MAX" for 255, and the number where the alias would
// be X-31 (1, 65, 129, 193), which the binary does not print as an alias.
func NiceString(n uint8) string {
	v := int(n)
	if v == 255 {
		return "MAX"
	}
	for _, a := range niceAliases {
		d := v - a.base
		if d < -30 || d > 32 {
			continue
		}
		switch {
		case d == 0:
			return a.short
		case d > 0:
			return fmt.Sprintf("%s+%d", a.short, d)
		default:
			return fmt.Sprintf("%s%d", a.short, d)
		}
	}
	return strconv.Itoa(v)
}

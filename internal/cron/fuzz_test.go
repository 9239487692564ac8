package cron

import (
	"testing"
	"time"
)

// FuzzParse: no expression makes Parse or Next panic, and Next always
// moves forward.
func FuzzParse(f *testing.F) {
	for _, c := range nextCases {
		f.Add(c.expr)
	}
	for _, s := range []string{"", "@", "L", "0 0 LW * *", "* * * * 5#9", "0 0 * * 7L", "*/0 * * * *", "1-0 * * * *"} {
		f.Add(s)
	}
	from := time.Date(2026, 3, 28, 20, 34, 17, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		prev := from
		for _, n := range e.NextN(from, 3) {
			if !n.After(prev) {
				t.Fatalf("%q: %v after %v", s, n, prev)
			}
			prev = n
		}
	})
}

// Package cron owns the cron expressions of NNCP's call schedules (the
// "cron" field of a neighbour's calls, nncp-cronexpr): parsing them and
// computing when they next fire.
//
// The syntax is the one NNCP's manual documents (cronexpr.texi): five, six
// or seven fields (an optional seconds field first and an optional year
// field last), "* / , -" everywhere, L and W in the day of month, L and #
// in the day of week, month and day names, and the @yearly, @annually,
// @monthly, @weekly, @daily and @hourly macros. Parsing and the next-time
// computation are github.com/hashicorp/cronexpr, the maintained fork of
// github.com/gorhill/cronexpr that NNCP 8.8.2 is built with. One thing is
// done here on top: a day-of-week range ending in 7 (or SUN), such as
// "5-7" or "FRI-SUN", includes Sunday, as the manual says 7 is Sunday
// (hashicorp's fork drops Sunday, gorhill's matches no day at all), and
// SUN-SUN is Sunday (the fork makes it every day).
//
// Times are computed in the location of the time given (the caller uses
// local time). Across DST changes the fork skips a time that does not
// exist that night and fires twice at one that happens twice; gorhill's
// fires an hour late, and once.
package cron

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/cronexpr"
)

// ErrSyntax wraps every parse failure.
var ErrSyntax = errors.New("bad cron expression")

// Expr is a parsed cron expression. It is safe for concurrent use.
type Expr struct {
	src string
	mu  sync.Mutex // the library's Next keeps state in the expression
	e   *cronexpr.Expression
}

// Parse parses a cron expression. Errors wrap ErrSyntax and carry the
// library's description ("syntax error in minute field: '61'").
func Parse(s string) (*Expr, error) {
	e, err := parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %s", ErrSyntax, s, err)
	}
	return &Expr{src: s, e: e}, nil
}

// parse runs the library, converting a panic (there should be none: the
// fuzz test looks for them) into an error.
func parse(s string) (e *cronexpr.Expression, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return cronexpr.Parse(sundaySpans(s))
}

// String returns the expression as written.
func (x *Expr) String() string { return x.src }

// Next returns the first time after t (at whole seconds, in t's location)
// the expression matches, or the zero time when it never will (the year
// field ends at 2099; "0 0 30 2 *" never matches).
func (x *Expr) Next(t time.Time) time.Time {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.e.Next(t)
}

// NextN returns up to n successive times after t.
func (x *Expr) NextN(t time.Time, n int) []time.Time {
	var out []time.Time
	for range n {
		t = x.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}

// dowSpan is a day-of-week range item: START-END or START-END/STEP.
var dowSpan = regexp.MustCompile(`^([0-9]|[a-z]+)-([0-9]|[a-z]+)(?:/([0-9]+))?$`)

var dayNumbers = map[string]int{
	"sun": 0, "sunday": 0, "mon": 1, "monday": 1, "tue": 2, "tuesday": 2,
	"wed": 3, "wednesday": 3, "thu": 4, "thursday": 4, "fri": 5, "friday": 5,
	"sat": 6, "saturday": 6,
}

func dayNumber(tok string) (int, bool) {
	if n, ok := dayNumbers[tok]; ok {
		return n, true
	}
	n, err := strconv.Atoi(tok)
	return n, err == nil && n >= 0 && n <= 7
}

// sundaySpans rewrites, in the day-of-week field, each range that ends on
// Sunday (7, 0 or SUN: "5-7", "FRI-SUN", "1-7/2") into the list of days it
// means, so that Sunday is in it, and SUN-SUN into Sunday. Everything else
// is left to the library.
func sundaySpans(s string) string {
	f := strings.Fields(s)
	var dow int
	switch len(f) {
	case 5, 6:
		dow = 4
	case 7:
		dow = 5
	default:
		return s
	}
	items := strings.Split(f[dow], ",")
	changed := false
	for i, it := range items {
		m := dowSpan.FindStringSubmatch(strings.ToLower(it))
		if m == nil {
			continue
		}
		start, ok1 := dayNumber(m[1])
		end, ok2 := dayNumber(m[2])
		if !ok1 || !ok2 || (end != 0 && end != 7) {
			continue
		}
		if end == 0 && start == 0 {
			// SUN-SUN, 0-0: the library makes that the whole week.
			items[i] = "0"
			changed = true
			continue
		}
		step := 1
		if m[3] != "" {
			n, err := strconv.Atoi(m[3])
			if err != nil || n < 1 || n > 7 {
				continue
			}
			step = n
		}
		if start == 7 {
			start = 0
		}
		var days []string
		for d := start; d <= 7; d += step {
			days = append(days, strconv.Itoa(d%7))
		}
		items[i] = strings.Join(days, ",")
		changed = true
	}
	if !changed {
		return s
	}
	f[dow] = strings.Join(items, ",")
	return strings.Join(f, " ")
}

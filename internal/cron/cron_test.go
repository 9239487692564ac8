package cron

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, even where the system has none
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// The examples of cronexpr.texi, call.texi and nncp-cronexpr.texi, and one
// case of each special character, with the times worked out by hand from
// a calendar.
var nextCases = []struct {
	expr, from string
	want       []string // RFC 3339, UTC
}{
	// nncp-cronexpr.texi, verbatim.
	{"*/5 * * * * * *", "2021-07-04T08:26:26.229285858Z", []string{
		"2021-07-04T08:26:30Z", "2021-07-04T08:26:35Z", "2021-07-04T08:26:40Z", "2021-07-04T08:26:45Z",
		"2021-07-04T08:26:50Z", "2021-07-04T08:26:55Z", "2021-07-04T08:27:00Z", "2021-07-04T08:27:05Z",
		"2021-07-04T08:27:10Z", "2021-07-04T08:27:15Z"}},
	// Seconds, on Saturdays and Sundays of 2021 (2021-07-04 is a Sunday,
	// 2021-07-05 a Monday).
	{"*/1 * * * * SAT,SUN 2021", "2021-07-04T23:59:58Z", []string{
		"2021-07-04T23:59:59Z", "2021-07-10T00:00:00Z", "2021-07-10T00:00:01Z"}},
	{"*/1 * * * * SAT,SUN 2021", "2021-12-31T23:59:59Z", nil}, // a Friday, and 2021 ends
	// neigh.texi and call.texi (2026-03-28 is a Saturday).
	{"*/2 * * * *", "2026-03-28T20:34:17Z", []string{"2026-03-28T20:36:00Z", "2026-03-28T20:38:00Z"}},
	{"*/1 * * * MON-FRI", "2026-03-28T20:34:17Z", []string{"2026-03-30T00:00:00Z", "2026-03-30T00:01:00Z"}},
	{"30 * * * SAT,SUN", "2026-03-28T22:34:17Z", []string{"2026-03-28T23:30:00Z", "2026-03-29T00:30:00Z"}},
	{"0 * * * SAT,SUN", "2026-03-29T23:00:00Z", []string{"2026-04-04T00:00:00Z"}},
	// Slash over a range: "3-59/15" is minutes 3, 18, 33 and 48.
	{"3-59/15 * * * *", "2026-03-28T20:34:17Z", []string{
		"2026-03-28T20:48:00Z", "2026-03-28T21:03:00Z", "2026-03-28T21:18:00Z", "2026-03-28T21:33:00Z"}},
	// Ranges and lists, month names.
	{"0 0 1 JAN-MAR,DEC *", "2026-03-28T20:34:17Z", []string{
		"2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z", "2027-03-01T00:00:00Z", "2027-12-01T00:00:00Z"}},
	{"0 0 0 1 1 * 2000-2010", "1999-06-01T00:00:00Z", []string{"2000-01-01T00:00:00Z", "2001-01-01T00:00:00Z"}},
	// L: the last day of the month (2028 is a leap year).
	{"0 0 L * *", "2026-01-31T00:00:00Z", []string{"2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z"}},
	{"0 0 L 2 *", "2027-03-01T00:00:00Z", []string{"2028-02-29T00:00:00Z"}},
	// W: 2026-08-15 is a Saturday (the 14th fires), 2026-02-15 a Sunday
	// (the 16th), 2026-09-15 a Tuesday (the 15th).
	{"0 0 15W * *", "2026-08-01T00:00:00Z", []string{"2026-08-14T00:00:00Z", "2026-09-15T00:00:00Z"}},
	{"0 0 15W * *", "2026-02-01T00:00:00Z", []string{"2026-02-16T00:00:00Z"}},
	// 1W does not jump back over the month's start: 2026-08-01 is a
	// Saturday, so Monday the 3rd.
	{"0 0 1W * *", "2026-07-31T00:00:00Z", []string{"2026-08-03T00:00:00Z"}},
	// LW: the last business day (2026-01-31 is a Saturday, 2026-05-31 a Sunday).
	{"0 0 LW * *", "2026-01-01T00:00:00Z", []string{"2026-01-30T00:00:00Z"}},
	{"0 0 LW * *", "2026-05-01T00:00:00Z", []string{"2026-05-29T00:00:00Z"}},
	// 5L: the last Friday; 5#2 and FRI#3: the second and third Fridays
	// (2026-01-02 is the first Friday of January 2026).
	{"0 0 * * 5L", "2026-01-01T00:00:00Z", []string{"2026-01-30T00:00:00Z"}},
	{"0 0 * * 5#2", "2026-01-01T00:00:00Z", []string{"2026-01-09T00:00:00Z"}},
	{"0 0 * * FRI#3", "2026-01-01T00:00:00Z", []string{"2026-01-16T00:00:00Z"}},
	// Macros.
	{"@annually", "2026-03-28T20:34:17Z", []string{"2027-01-01T00:00:00Z"}},
	{"@yearly", "2026-03-28T20:34:17Z", []string{"2027-01-01T00:00:00Z"}},
	{"@monthly", "2026-03-28T20:34:17Z", []string{"2026-04-01T00:00:00Z"}},
	{"@weekly", "2026-03-28T20:34:17Z", []string{"2026-03-29T00:00:00Z", "2026-04-05T00:00:00Z"}},
	{"@daily", "2026-03-28T20:34:17Z", []string{"2026-03-29T00:00:00Z"}},
	{"@hourly", "2026-03-28T20:34:17Z", []string{"2026-03-28T21:00:00Z"}},
	// Six fields: a 0 seconds field is prepended ("* * * * * 2013" is
	// "0 * * * * * 2013"); five fields also get a wildcard year.
	{"* * * * * 2013", "2013-05-01T12:00:30Z", []string{"2013-05-01T12:01:00Z", "2013-05-01T12:02:00Z"}},
	{"* * * * * 2013", "2013-12-31T23:59:00Z", nil},
	{"* * * * Mon", "2026-03-28T20:34:17Z", []string{"2026-03-30T00:00:00Z", "2026-03-30T00:01:00Z"}},
	// Day of week 7 is Sunday, alone and at the end of a range.
	{"0 0 * * 7", "2026-03-28T20:34:17Z", []string{"2026-03-29T00:00:00Z", "2026-04-05T00:00:00Z"}},
	{"0 0 * * 5-7", "2026-03-26T20:34:17Z", []string{
		"2026-03-27T00:00:00Z", "2026-03-28T00:00:00Z", "2026-03-29T00:00:00Z", "2026-04-03T00:00:00Z"}},
	{"0 0 * * FRI-SUN", "2026-03-26T20:34:17Z", []string{
		"2026-03-27T00:00:00Z", "2026-03-28T00:00:00Z", "2026-03-29T00:00:00Z", "2026-04-03T00:00:00Z"}},
	{"0 0 * * 1-7/2", "2026-03-26T20:34:17Z", []string{ // Mon, Wed, Fri, Sun
		"2026-03-27T00:00:00Z", "2026-03-29T00:00:00Z", "2026-03-30T00:00:00Z", "2026-04-01T00:00:00Z"}},
	{"0 0 * * 2-7/2", "2026-03-26T20:34:17Z", []string{ // Tue, Thu, Sat
		"2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-02T00:00:00Z"}},
	{"0 0 * * SUN-SUN", "2026-03-26T20:34:17Z", []string{"2026-03-29T00:00:00Z", "2026-04-05T00:00:00Z"}},
	{"0 0 * * 0-7", "2026-03-26T20:34:17Z", []string{"2026-03-27T00:00:00Z", "2026-03-28T00:00:00Z", "2026-03-29T00:00:00Z"}},
	{"0 0 12 * * 5-7 *", "2026-03-26T20:34:17Z", []string{"2026-03-27T12:00:00Z", "2026-03-28T12:00:00Z", "2026-03-29T12:00:00Z"}},
	// Never: February has no 30th.
	{"0 0 30 2 *", "2026-03-28T20:34:17Z", nil},
	// Leading zeros in months (gorhill's cronexpr, in nncp-cronexpr 8.8.2,
	// turns "01" into times in the past).
	{"0 0 1 01 *", "2026-03-28T20:34:17Z", []string{"2027-01-01T00:00:00Z"}},
}

func TestNext(t *testing.T) {
	for _, c := range nextCases {
		t.Run(c.expr+"@"+c.from, func(t *testing.T) {
			e, err := Parse(c.expr)
			if err != nil {
				t.Fatal(err)
			}
			got := e.NextN(at(c.from), len(c.want)+1)
			var gs []string
			for _, g := range got {
				gs = append(gs, g.UTC().Format(time.RFC3339))
			}
			if len(gs) > len(c.want) && len(c.want) > 0 {
				gs = gs[:len(c.want)]
			}
			if strings.Join(gs, " ") != strings.Join(c.want, " ") {
				t.Errorf("next times\n got %v\nwant %v", gs, c.want)
			}
		})
	}
}

// Next is strictly after its argument, also when that matches exactly.
func TestNextStrictlyAfter(t *testing.T) {
	e, err := Parse("* * * * * * *")
	if err != nil {
		t.Fatal(err)
	}
	from := at("2026-03-28T20:34:17Z")
	if got := e.Next(from); !got.Equal(from.Add(time.Second)) {
		t.Errorf("Next(%v) = %v", from, got)
	}
	from = at("2026-03-28T20:34:17.999Z")
	if got := e.Next(from); !got.Equal(at("2026-03-28T20:34:18Z")) {
		t.Errorf("Next(%v) = %v", from, got)
	}
}

// Times are computed in the location of the time given: @daily in
// Moscow (UTC+3) is 21:00 UTC.
func TestNextLocal(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := Parse("@daily")
	got := e.Next(at("2026-03-28T20:34:17Z").In(loc))
	if want := at("2026-03-28T21:00:00Z"); !got.Equal(want) {
		t.Errorf("got %v, want %v", got.UTC(), want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{
		"", "* * * *", "61 * * * *", "* 24 * * *", "0 0 32 * *", "0 0 * 13 *", "0 0 * * 8",
		"60 * * * * * *", "* * * * * * 1969", "* * * * * * 2100", "@every 5m", "@reboot",
		"0 0 * * FOO", "a b c d e", "0 0 1-15W * *",
	} {
		if e, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", s, e.NextN(at("2026-01-01T00:00:00Z"), 3))
		} else if !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q): %v does not wrap ErrSyntax", s, err)
		}
	}
}

func TestSundaySpans(t *testing.T) {
	for in, want := range map[string]string{
		"0 0 * * 5-7":         "0 0 * * 5,6,0",
		"0 0 * * 1,5-7/2":     "0 0 * * 1,5,0",
		"0 0 * * MON-SUN":     "0 0 * * 1,2,3,4,5,6,0",
		"0 0 * * SUN-SUN":     "0 0 * * 0",
		"0 0 * * 0-0,3":       "0 0 * * 0,3",
		"0 0 * * WED-0":       "0 0 * * 3,4,5,6,0",
		"0 0 * * SUN-SAT":     "0 0 * * SUN-SAT",
		"0 0 * * 1-5":         "0 0 * * 1-5",
		"0 0 12 * * 6-7 2030": "0 0 12 * * 6,0 2030",
		"0 0 12 * * 6-7 *":    "0 0 12 * * 6,0 *",
		"5-7 * * * *":         "5-7 * * * *", // minutes, not days
		"@weekly":             "@weekly",
	} {
		if got := sundaySpans(in); got != want {
			t.Errorf("sundaySpans(%q) = %q, want %q", in, got, want)
		}
	}
}

// Daylight saving time, in Berlin: on 2026-03-29 clocks go from 02:00 to
// 03:00 (02:30 does not exist: that day is skipped; gorhill's library
// fires at 03:30), on 2026-10-25 from 03:00 back to 02:00 (02:30 happens
// twice, and fires twice; gorhill's fires at the second only).
func TestNextDST(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := Parse("30 2 * * *")
	got := func(from string, n int) []string {
		var out []string
		for _, x := range e.NextN(at(from).In(loc), n) {
			out = append(out, x.Format(time.RFC3339))
		}
		return out
	}
	if g, w := got("2026-03-28T12:00:00+01:00", 2), []string{"2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"}; !slices.Equal(g, w) {
		t.Errorf("spring: %v, want %v", g, w)
	}
	if g, w := got("2026-10-24T12:00:00+02:00", 2), []string{"2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00"}; !slices.Equal(g, w) {
		t.Errorf("autumn: %v, want %v", g, w)
	}
	hourly, _ := Parse("0 * * * *")
	var g []string
	for _, x := range hourly.NextN(at("2026-10-25T01:30:00+02:00").In(loc), 3) {
		g = append(g, x.Format(time.RFC3339))
	}
	if w := []string{"2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"}; !slices.Equal(g, w) {
		t.Errorf("hourly in autumn: %v, want %v", g, w)
	}
}

package dsn

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// wantReport is what ParseDSN gives for Build(opts).
func wantReport(o Options) *Report {
	rep := &Report{ReportingMTA: o.ReportingMTA, EnvID: o.EnvID, QueueID: o.QueueID, Arrival: o.Arrival, MessageID: "<lunch-1@sat.example>"}
	for _, r := range o.Recipients {
		if r.Original != "" {
			r.Original = normOriginal(r.Original)
		}
		rep.Recipients = append(rep.Recipients, r)
	}
	return rep
}

// sameReport compares reports, times with Equal.
func sameReport(t *testing.T, got, want *Report) {
	t.Helper()
	norm := func(r *Report) Report {
		c := *r
		c.Arrival = c.Arrival.UTC()
		c.Recipients = nil
		for _, x := range r.Recipients {
			x.LastAttempt, x.WillRetryUntil = x.LastAttempt.UTC(), x.WillRetryUntil.UTC()
			c.Recipients = append(c.Recipients, x)
		}
		return c
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("report\n%+v\nwant\n%+v", g, w)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, ret := range []string{"", "FULL"} {
		o := baseOptions()
		o.Ret = ret
		b, err := Build(o)
		if err != nil {
			t.Fatal(err)
		}
		o = baseOptions()
		rep, err := ParseDSN(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		sameReport(t, rep, wantReport(o))
	}
}

func TestRoundTripEightBit(t *testing.T) {
	o := baseOptions()
	o.Recipients[0].Final = "jos\u00e9@x.example"
	o.Recipients[0].Diagnostic = "smtp; 550 5.1.1 caf\u00e9 inconnu"
	o.Original = opener("Message-ID: <lunch-1@sat.example>\nSubject: caf\xc3\xa9\n\nna\xefve\n")
	b, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ParseDSN(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	sameReport(t, rep, wantReport(o))
}

func TestParseGolden(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "failed.eml"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ParseDSN(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	sameReport(t, rep, wantReport(baseOptions()))
}

// eximDSN is a bounce in the shape Exim 4.96 writes, with CRLF endings.
const eximDSN = "Return-path: <>\r\n" +
	"From: Mail Delivery System <Mailer-Daemon@hub.example>\r\n" +
	"To: alice@sat.example\r\n" +
	"Subject: Mail delivery failed: returning message to sender\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/report; report-type=delivery-status; boundary=1709622489-eximdsn-1804289383\r\n" +
	"\r\n" +
	"--1709622489-eximdsn-1804289383\r\n" +
	"Content-type: text/plain; charset=us-ascii\r\n" +
	"\r\n" +
	"This message was created automatically by mail delivery software.\r\n" +
	"\r\n" +
	"--1709622489-eximdsn-1804289383\r\n" +
	"Content-type: message/delivery-status\r\n" +
	"\r\n" +
	"Reporting-MTA: dns; hub.example\r\n" +
	"\r\n" +
	"Action: failed\r\n" +
	"Final-Recipient: rfc822;bob@x.example\r\n" +
	"Status: 5.0.0 (permanent failure)\r\n" +
	"Remote-MTA: dns; mx.x.example\r\n" +
	"Diagnostic-Code: smtp; 550 5.1.1 <bob@x.example>:\r\n" +
	"\tuser unknown\r\n" +
	"\r\n" +
	"--1709622489-eximdsn-1804289383\r\n" +
	"Content-type: message/rfc822\r\n" +
	"\r\n" +
	"Message-Id: <E1rhQ-0001@sat.example>\r\n" +
	"Subject: x\r\n" +
	"\r\n" +
	"body\r\n" +
	"\r\n" +
	"--1709622489-eximdsn-1804289383--\r\n"

func TestParseExim(t *testing.T) {
	rep, err := ParseDSN(strings.NewReader(eximDSN))
	if err != nil {
		t.Fatal(err)
	}
	want := &Report{ReportingMTA: "hub.example", MessageID: "<E1rhQ-0001@sat.example>", Recipients: []Recipient{{
		Final: "bob@x.example", Action: Failed, Status: "5.0.0", RemoteMTA: "mx.x.example",
		Diagnostic: "smtp; 550 5.1.1 <bob@x.example>:\tuser unknown",
	}}}
	sameReport(t, rep, want)
}

func TestParseNotDSN(t *testing.T) {
	for name, in := range map[string]string{
		"plain":           "Subject: hi\n\nhello\n",
		"other report":    "Content-Type: multipart/report; report-type=disposition-notification; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n--b--\n",
		"no status part":  "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n--b--\n",
		"mixed multipart": "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nAction: failed\n--b--\n",
	} {
		if _, err := ParseDSN(strings.NewReader(in)); !errors.Is(err, ErrNotDSN) {
			t.Errorf("%s: %v, want ErrNotDSN", name, err)
		}
	}
	if _, err := ParseDSN(strings.NewReader("")); err == nil {
		t.Error("empty input parsed")
	}
}

func TestParseDates(t *testing.T) {
	in := "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n" +
		"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns;h\nArrival-Date: not a date\n\n" +
		"Final-Recipient: rfc822;a@b\nAction: Delayed\nStatus: 4.0.0\nLast-Attempt-Date: Tue, 5 Mar 2024 07:08:09 +0100\n--b--\n"
	rep, err := ParseDSN(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Arrival.IsZero() || len(rep.Recipients) != 1 || rep.Recipients[0].Action != Delayed ||
		!rep.Recipients[0].LastAttempt.Equal(time.Date(2024, 3, 5, 6, 8, 9, 0, time.UTC)) {
		t.Errorf("report %+v", rep)
	}
}

package dsn

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseDSN: ParseDSN never panics, and what it reports from a DSN can
// be built again and parsed to the same report.
func FuzzParseDSN(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "failed.eml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(eximDSN))
	o := baseOptions()
	o.Ret = "FULL"
	if b, err := Build(o); err == nil {
		f.Add(b)
	}
	f.Add([]byte("Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\n\n\n \n:\nx\n--b\nContent-Type: text/rfc822-headers\n\n Message-ID: <x>\n--b--\n"))
	f.Add([]byte("Content-Type: multipart/report; report-type=delivery-status; boundary=\"\"\n\n--\n"))
	f.Add([]byte("Content-Type: multipart/report; report-type=global-delivery-status; boundary=b\n\n--b\nContent-Type: message/global-delivery-status\nContent-Transfer-Encoding: base64\n\nQWN0aW9uOiBmYWlsZWQK\n--b--\n"))

	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := ParseDSN(bytes.NewReader(in))
		if err != nil {
			return
		}
		// Rebuild what can be rebuilt: recipients with a valid action,
		// status and address.
		o := Options{ReportingMTA: "hub.example", Sender: "a@sat.example", Rand: &counter{}}
		o.Recipients = append(o.Recipients, rep.Recipients...)
		o.EnvID, o.QueueID, o.Arrival = rep.EnvID, rep.QueueID, rep.Arrival
		b, err := Build(o)
		if err != nil {
			return
		}
		again, err := ParseDSN(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("rebuilt DSN does not parse: %v\n%s", err, b)
		}
		if len(again.Recipients) != len(o.Recipients) {
			t.Fatalf("rebuilt DSN has %d recipients, want %d\n%s", len(again.Recipients), len(o.Recipients), b)
		}
		for i, r := range again.Recipients {
			w := o.Recipients[i]
			if r.Final != w.Final || r.Action != w.Action || r.Status != w.Status {
				t.Fatalf("recipient %d: %+v, want %+v\n%s", i, r, w, b)
			}
		}
	})
}

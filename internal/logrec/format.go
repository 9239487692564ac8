package logrec

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// FormatOptions change what Format prints.
type FormatOptions struct {
	// Debug prints, before the line, the record's fields the way
	// `nncp-log -debug` does: Go's rendering of a map ("map[K:V K:V]", keys
	// sorted, the last of repeated fields).
	Debug bool
}

// Format writes r the way nncp-log 8.8.2 prints a record, which is also the
// line every NNCP command prints on its console for it:
//
//	<When as RFC 3339, whole seconds, in its own offset> <Msg>
//	<When> ERROR <Msg>: <Err>           (when the record has an Err field)
//
// followed by "\n". Multi-line values are printed as they are (their lines
// separated by "\n"). A missing Msg prints as empty. If When is missing or is
// not RFC 3339, it writes "Can not humanize: <parse error>" and the map of
// fields on the next line instead.
func Format(w io.Writer, r Record, opts FormatOptions) error {
	m := r.Map()
	var b strings.Builder
	if opts.Debug {
		fmt.Fprintln(&b, m)
	}
	when, err := time.Parse(time.RFC3339Nano, m["When"])
	if err != nil {
		fmt.Fprintf(&b, "Can not humanize: %v\n%v\n", err, m)
	} else {
		b.WriteString(humanLine(when, m))
		b.WriteByte('\n')
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// humanLine is the console text of a record whose When parsed.
func humanLine(when time.Time, m map[string]string) string {
	s := when.Format(time.RFC3339) + " "
	if e, ok := m["Err"]; ok {
		return s + "ERROR " + m["Msg"] + ": " + e
	}
	return s + m["Msg"]
}

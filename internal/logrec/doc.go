// Package logrec owns NNCP's log: recfile records written the way NNCP 8.8.2
// writes them, read back the way nncp-log reads them, and rendered the way
// nncp-log (and every command's console) prints them.
//
// # The record
//
// A log is a sequence of records, each preceded by an empty line:
//
//	(empty line)
//	When: 2021-08-07T20:30:49.131766306Z
//	Who: rx
//	Node: BYRRQUULEHINPKEFN7CHMSHR5I5CK7PMX5HQNCYERTBAR4BOOCG6Q
//	...
//	Msg: Got exec from gw to sendmail stargrave@stargrave.org (4.6 KiB)
//
// The order is fixed: When (UTC, RFC 3339 with trimmed nanoseconds), then
// "Debug: true" for debug records, then Err for errors, then Who, then the
// event's own fields in the order NNCP uses (CATALOG.md lists them per
// command), then Msg. A value holding newlines continues on lines starting
// with "+ ". Field names may repeat (NNCP's ack record has two Pkt fields), so
// a [Record] is an ordered list, not a map.
//
// # Writing
//
// Command code builds a [Rec] (Who, fields, Msg) with the helpers in this
// package and hands it to a [Logger]:
//
//	l.Info(logrec.Rec{Who: logrec.WhoTx, Fields: []logrec.Field{
//		logrec.Type("file"), logrec.Node(id), logrec.Nice(224),
//		logrec.Src(src), logrec.Dst(dst), logrec.Size(n), logrec.Pkt(pkt),
//	}, Msg: fmt.Sprintf("File %s (%s) is sent to %s:%s", src, logrec.HumanSize(n), name, dst)})
//	l.Error(rec, err) // adds "Err: <err>" right after When
//
// The Logger appends each record with a single write to a file opened with
// O_APPEND, under an flock on "<log>.lock" (as NNCP does, so ferry and NNCP
// processes can share a log), or writes it to an inherited descriptor
// ("FD:N"). The console gets what nncp-log would print for the record:
// "<When in RFC 3339 seconds> <Msg>" or "<When> ERROR <Msg>: <Err>".
//
// # Reading
//
// [Reader] and [Read] parse recfiles with nncp-log's rules (comments, "%rec"
// lines, "+" and backslash continuations; see reader.go), and [Format]
// renders a record byte for byte as nncp-log prints it.
//
// # Where ferry differs from NNCP 8.8.2 on purpose
//
//   - NNCP writes a value containing a newline (a file name with "\n") raw,
//     which breaks the log for every later reader; ferry writes continuation
//     lines, so the log stays valid.
//   - A value line ending in "\r" gets one more "\r" (readers drop one), and a
//     first line ending in a backslash gets a trailing space (readers would
//     join the next line). NNCP writes both raw.
//   - The reader accepts lines of any length; nncp-log stops at 64 KiB.
package logrec

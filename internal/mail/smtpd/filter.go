package smtpd

import (
	"bufio"
	"bytes"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
)

// postmasterSentinel is what an unqualified "<postmaster>" in RCPT becomes
// before go-smtp parses it (go-smtp wants a domain): the same length, so
// that the byte counts of the stream never change, and a domain no real
// address has.
const postmasterDomain = "_"

// cmdFilter sits between the connection and go-smtp and rewrites one
// thing: "RCPT TO:<postmaster>" (no domain, which RFC 5321 requires a
// server to accept and go-smtp's parser refuses) into
// "RCPT TO:postmaster@_", which the session maps to the postmaster.
//
// It must touch command lines only, never a message: it hands go-smtp
// one command line per Read, so that go-smtp has consumed the line (and
// answered it) before it asks for more, and then knows what comes next
// the way go-smtp does: a message after a 354 reply, up to the
// <CR><LF>.<CR><LF> that go-smtp's reader ends on; a chunk of exactly N
// bytes after a well-formed "BDAT N"; a command line otherwise.
type cmdFilter struct {
	net.Conn
	r    *bufio.Reader
	out  []byte // the rest of the unit being handed out
	err  error  // a read error to report once out is empty
	mode int
	raw  uint64 // bytes of a BDAT chunk still to pass
	dot  int    // the message reader's state (go-smtp's, mirrored)

	pendingBdat uint64
	bdatPending bool
	saw354      atomic.Bool
	lineStart   bool // the next byte written starts a reply line
	replyHead   []byte
}

const (
	modeCmd = iota
	modeData
	modeRaw
)

// The message reader's states: as go-smtp's (and net/textproto's) dot
// reader, without which the filter could take a message line for a command.
const (
	dotBeginLine = iota
	dotDot
	dotDotCR
	dotCR
	dotData
	dotEOF
)

// maxCmdLine is the longest line handed out whole (go-smtp closes the
// connection beyond 2000 bytes).
const maxCmdLine = 4096

func newCmdFilter(c net.Conn) *cmdFilter {
	return &cmdFilter{Conn: c, r: bufio.NewReaderSize(c, 64<<10), lineStart: true}
}

// markGreeted passes the news on to a timedConn below.
func (c *cmdFilter) markGreeted() {
	if g, ok := c.Conn.(interface{ markGreeted() }); ok {
		g.markGreeted()
	}
}

func (c *cmdFilter) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(c.out) > 0 {
		n := copy(p, c.out)
		c.out = c.out[n:]
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.mode == modeCmd {
		// The last command has been read and answered: what comes now?
		switch {
		case c.saw354.Swap(false):
			c.mode, c.dot = modeData, dotBeginLine
		case c.bdatPending:
			c.mode, c.raw = modeRaw, c.pendingBdat
		}
		c.bdatPending = false
		if c.mode == modeRaw && c.raw == 0 {
			c.mode = modeCmd
		}
	}
	switch c.mode {
	case modeData:
		return c.readData(p)
	case modeRaw:
		if uint64(len(p)) > c.raw {
			p = p[:c.raw]
		}
		n, err := c.r.Read(p)
		c.raw -= uint64(n)
		if c.raw == 0 {
			c.mode = modeCmd
		}
		return n, err
	}
	line, err := c.readLine()
	c.err = err
	if len(line) == 0 {
		c.err = nil
		return 0, err
	}
	if line[len(line)-1] == '\n' {
		c.command(line)
	}
	c.saw354.Store(false)
	n := copy(p, line)
	c.out = line[n:]
	return n, nil
}

// readLine reads up to and including '\n', at most maxCmdLine bytes.
func (c *cmdFilter) readLine() ([]byte, error) {
	var line []byte
	for len(line) < maxCmdLine {
		b, err := c.r.ReadByte()
		if err != nil {
			return line, err
		}
		line = append(line, b)
		if b == '\n' {
			break
		}
	}
	return line, nil
}

// command looks at a whole command line before go-smtp does: it rewrites
// an unqualified postmaster and notes a BDAT's chunk size.
func (c *cmdFilter) command(line []byte) {
	if rewritePostmaster(line) {
		return
	}
	s := strings.TrimRight(string(line), "\r\n")
	if len(s) < 6 || s[4] != ' ' || !strings.EqualFold(s[:4], "BDAT") {
		return
	}
	// go-smtp's own checks, in which the chunk is read (or discarded).
	f := strings.Fields(s[5:])
	if len(f) == 0 || len(f) > 2 || len(f) == 2 && !strings.EqualFold(f[1], "LAST") {
		return
	}
	n, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return
	}
	c.pendingBdat, c.bdatPending = n, true
}

// rewritePostmaster turns "RCPT TO:<postmaster>" (any case, any spacing
// after the colon, parameters after it) into "RCPT TO:postmaster@_" in
// place.
func rewritePostmaster(line []byte) bool {
	const verb = "RCPT TO:"
	if len(line) < len(verb) || !strings.EqualFold(string(line[:len(verb)]), verb) {
		return false
	}
	i := len(verb)
	for i < len(line) && line[i] == ' ' {
		i++
	}
	const pm = "<postmaster>"
	if len(line)-i < len(pm) || !strings.EqualFold(string(line[i:i+len(pm)]), pm) {
		return false
	}
	if j := i + len(pm); j < len(line) && line[j] != ' ' && line[j] != '\r' && line[j] != '\n' {
		return false
	}
	local := append([]byte(nil), line[i+1:i+len(pm)-1]...)
	w := append(append(local, '@'), postmasterDomain...)
	copy(line[i:], w)
	return true
}

// readData passes message bytes on, mirroring go-smtp's dot reader, and
// stops at the end of the message.
func (c *cmdFilter) readData(p []byte) (int, error) {
	want := c.r.Buffered()
	if want == 0 {
		want = 1
	}
	if want > len(p) {
		want = len(p)
	}
	buf, err := c.r.Peek(want)
	if len(buf) == 0 {
		return 0, err
	}
	n := 0
	for n < len(buf) && c.dot != dotEOF {
		b := buf[n]
		n++
		switch c.dot {
		case dotBeginLine:
			switch b {
			case '.':
				c.dot = dotDot
			case '\r':
				c.dot = dotCR
			default:
				c.dot = dotData
			}
		case dotDot:
			if b == '\r' {
				c.dot = dotDotCR
			} else {
				c.dot = dotData
			}
		case dotDotCR:
			if b == '\n' {
				c.dot = dotEOF
			} else {
				c.dot = dotData
			}
		case dotCR:
			if b == '\n' {
				c.dot = dotBeginLine
			} else {
				c.dot = dotData
			}
		case dotData:
			if b == '\r' {
				c.dot = dotCR
			}
		}
	}
	copy(p, buf[:n])
	c.r.Discard(n)
	if c.dot == dotEOF {
		c.mode = modeCmd
	}
	return n, nil
}

// Write notes a 354 reply: go-smtp reads a message next.
func (c *cmdFilter) Write(p []byte) (int, error) {
	for _, b := range p {
		if c.lineStart {
			c.replyHead = c.replyHead[:0]
			c.lineStart = false
		}
		if len(c.replyHead) < 4 {
			c.replyHead = append(c.replyHead, b)
			if len(c.replyHead) == 4 && bytes.HasPrefix(c.replyHead, []byte("354")) {
				c.saw354.Store(true)
			}
		}
		if b == '\n' {
			c.lineStart = true
		}
	}
	if bytes.Contains(p, []byte("@"+postmasterDomain+">")) {
		// go-smtp echoes the address: show the client what it sent.
		q := postmasterReply.ReplaceAll(p, []byte("<$1>"))
		if _, err := c.Conn.Write(q); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

var postmasterReply = regexp.MustCompile(`(?i)<(postmaster)@` + postmasterDomain + `>`)

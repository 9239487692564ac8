package bsmtp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxPath is the longest address the Reader and Writer take (RFC 5321
// section 4.5.3.1.3: a path is at most 256 octets, brackets included).
const maxPath = 254

// bad makes the errors the parsers below return; the Reader turns them into
// an *Error with ErrSyntax and a line number, the Writer wraps ErrSyntax.
func bad(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// splitVerb splits a command line (line ending removed) into its upper-case
// verb and the argument after the first space.
func splitVerb(line string) (verb, arg string) {
	verb, arg, _ = strings.Cut(line, " ")
	return strings.ToUpper(verb), arg
}

// parseMailArg parses what follows "MAIL " or "RCPT ": the prefix ("FROM:"
// or "TO:", any case), optional spaces, the path in angle brackets and the
// ESMTP parameters.
func parseMailArg(arg, prefix string, rcpt bool) (addr string, params []Param, err error) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", nil, bad("expected %s<address>", prefix)
	}
	rest := strings.TrimLeft(arg[len(prefix):], " ")
	addr, rest, err = parsePath(rest, rcpt)
	if err != nil {
		return "", nil, err
	}
	if rest != "" && rest[0] != ' ' {
		return "", nil, bad("no space after the address")
	}
	raw := strings.Fields(rest)
	for _, f := range raw {
		k, v, hasValue := strings.Cut(f, "=")
		if hasValue && v == "" {
			return "", nil, bad("empty value in parameter %q", f)
		}
		params = append(params, Param{Key: k, Value: v})
	}
	if rcpt {
		params, err = normalizeRcptParams(params)
	} else {
		params, err = normalizeMailParams(params)
	}
	return addr, params, err
}

// parsePath reads "<address>" at the start of s and returns the address and
// what follows the closing bracket. A source route (<@a,@b:x@y>) is
// dropped. The null path <> is allowed only for MAIL.
func parsePath(s string, rcpt bool) (addr, rest string, err error) {
	if s == "" || s[0] != '<' {
		return "", "", bad("address must be in angle brackets")
	}
	end := -1
	quoted := false
	for i := 1; i < len(s) && end < 0; i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '>':
			end = i
		}
	}
	if end < 0 {
		return "", "", bad("no closing angle bracket")
	}
	addr, rest = s[1:end], s[end+1:]
	if strings.HasPrefix(addr, "@") {
		route, mbox, ok := strings.Cut(addr, ":")
		if !ok {
			return "", "", bad("source route without a colon in <%s>", addr)
		}
		for _, hop := range strings.Split(route, ",") {
			if len(hop) < 2 || hop[0] != '@' || checkDomain(hop[1:]) != nil {
				return "", "", bad("bad source route in <%s>", addr)
			}
		}
		addr = mbox
	}
	if addr == "" {
		if rcpt {
			return "", "", bad("null recipient <>")
		}
		return "", rest, nil
	}
	if err := checkMailbox(addr, rcpt); err != nil {
		return "", "", err
	}
	return addr, rest, nil
}

// CheckAddress reports whether addr (without angle brackets) is a mailbox
// the Reader accepts and the Writer writes: local-part@domain, with a dot
// string or quoted local part and a domain name or address literal; UTF-8
// is allowed (SMTPUTF8). The error wraps ErrSyntax.
func CheckAddress(addr string) error {
	if err := checkMailbox(addr, false); err != nil {
		return fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	return nil
}

// checkMailbox is CheckAddress, and with postmaster it also accepts the
// unqualified "postmaster" that RFC 5321 allows in RCPT.
func checkMailbox(addr string, postmaster bool) error {
	if len(addr) > maxPath {
		return bad("address longer than %d octets", maxPath)
	}
	local, domain := addr, ""
	if addr != "" && addr[0] == '"' {
		i := 1
		for ; i < len(addr) && addr[i] != '"'; i++ {
			c := addr[i]
			if c == '\\' {
				i++
				if i == len(addr) || addr[i] < 32 || addr[i] == 127 {
					return bad("bad quoted pair in %q", addr)
				}
				continue
			}
			if c < 32 || c == 127 {
				return bad("control character in %q", addr)
			}
		}
		if i >= len(addr) {
			return bad("unterminated quoted string in %q", addr)
		}
		if rest := addr[i+1:]; rest != "" {
			if rest[0] != '@' {
				return bad("junk after quoted local part in %q", addr)
			}
			domain = rest[1:]
		}
	} else {
		at := strings.LastIndexByte(addr, '@')
		if at >= 0 {
			local, domain = addr[:at], addr[at+1:]
		}
		if local == "" {
			return bad("empty local part in %q", addr)
		}
		for i := 0; i < len(local); i++ {
			if !isAtext(local[i]) && local[i] != '.' {
				return bad("character %q not allowed in local part of %q", local[i], addr)
			}
		}
	}
	if domain == "" {
		if !strings.Contains(addr, "@") && postmaster && strings.EqualFold(addr, "postmaster") {
			return nil
		}
		return bad("address %q has no domain", addr)
	}
	if err := checkDomain(domain); err != nil {
		return bad("in %q: %v", addr, err)
	}
	return nil
}

func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= 0x80:
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// checkDomain accepts a domain name (labels of letters, digits, hyphens and
// UTF-8) or an address literal in square brackets.
func checkDomain(d string) error {
	if strings.HasPrefix(d, "[") {
		if len(d) < 3 || d[len(d)-1] != ']' {
			return errors.New("bad address literal")
		}
		for i := 1; i < len(d)-1; i++ {
			if c := d[i]; c < 33 || c > 126 || c == '[' || c == ']' || c == '\\' {
				return errors.New("bad address literal")
			}
		}
		return nil
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" {
			return errors.New("empty label in domain")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c >= 0x80) {
				return fmt.Errorf("character %q not allowed in domain", c)
			}
		}
	}
	return nil
}

// normalizeMailParams checks the MAIL parameters (SIZE, BODY, SMTPUTF8,
// RET, ENVID, AUTH) and returns them with upper-case keys and enumerated
// values.
func normalizeMailParams(in []Param) ([]Param, error) {
	return normalizeParams(in, "MAIL", func(p *Param) error {
		switch p.Key {
		case "SIZE":
			if p.Value == "" || len(p.Value) > 19 || strings.Trim(p.Value, "0123456789") != "" {
				return bad("SIZE must be a number, not %q", p.Value)
			}
			if _, err := strconv.ParseInt(p.Value, 10, 64); err != nil {
				return bad("SIZE %q out of range", p.Value)
			}
		case "BODY":
			p.Value = strings.ToUpper(p.Value)
			if p.Value != "7BIT" && p.Value != "8BITMIME" && p.Value != "BINARYMIME" {
				return bad("BODY must be 7BIT, 8BITMIME or BINARYMIME, not %q", p.Value)
			}
		case "SMTPUTF8":
			if p.Value != "" {
				return bad("SMTPUTF8 takes no value")
			}
		case "RET":
			p.Value = strings.ToUpper(p.Value)
			if p.Value != "FULL" && p.Value != "HDRS" {
				return bad("RET must be FULL or HDRS, not %q", p.Value)
			}
		case "ENVID":
			if len(p.Value) > 100 || checkXtext(p.Value) != nil {
				return bad("ENVID %q is not xtext of at most 100 octets", p.Value)
			}
		case "AUTH":
			if p.Value != "<>" && checkXtext(p.Value) != nil {
				return bad("AUTH %q is neither <> nor xtext", p.Value)
			}
		default:
			return bad("unknown MAIL parameter %q", p.Key)
		}
		return nil
	})
}

// normalizeRcptParams checks the RCPT parameters (NOTIFY, ORCPT).
func normalizeRcptParams(in []Param) ([]Param, error) {
	return normalizeParams(in, "RCPT", func(p *Param) error {
		switch p.Key {
		case "NOTIFY":
			p.Value = strings.ToUpper(p.Value)
			seen := map[string]bool{}
			for _, v := range strings.Split(p.Value, ",") {
				if seen[v] || (v != "NEVER" && v != "SUCCESS" && v != "FAILURE" && v != "DELAY") {
					return bad("NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY, not %q", p.Value)
				}
				seen[v] = true
			}
			if seen["NEVER"] && len(seen) > 1 {
				return bad("NOTIFY=NEVER cannot be combined")
			}
		case "ORCPT":
			typ, addr, ok := strings.Cut(p.Value, ";")
			if !ok || typ == "" || addr == "" || strings.Trim(typ, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" || checkXtext(addr) != nil {
				return bad("ORCPT %q is not addr-type;xtext", p.Value)
			}
		default:
			return bad("unknown RCPT parameter %q", p.Key)
		}
		return nil
	})
}

func normalizeParams(in []Param, cmd string, check func(*Param) error) ([]Param, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]Param, 0, len(in))
	for _, p := range in {
		p.Key = strings.ToUpper(p.Key)
		for _, q := range out {
			if q.Key == p.Key {
				return nil, bad("%s parameter %s given twice", cmd, p.Key)
			}
		}
		if err := check(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// checkXtext accepts RFC 3461 xtext: printable ASCII except "+" and "=",
// and "+" followed by two hex digits.
func checkXtext(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return errors.New("bad hexchar")
			}
			i += 2
		case c < 33 || c > 126 || c == '=':
			return errors.New("bad character")
		}
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

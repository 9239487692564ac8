package submit

import (
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"

	"ferry/internal/mail/bsmtp"
)

// addrParser decodes no charsets: only the addresses matter, and a display
// name in an unknown charset must not make the list unreadable.
var addrParser = mail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
}}

// parseAddressList returns the addresses (addr-specs, possibly unqualified)
// of an RFC 5322 address list: a header field's value or a command-line
// argument. Display names, comments and groups are dropped; an empty list
// or empty group gives none. net/mail parses it when it can; otherwise
// (bare local names like "root", which cron and logwatch write in To:, or
// forms net/mail rejects) a lenient splitter takes over.
func parseAddressList(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if list, err := addrParser.ParseList(s); err == nil {
		out := make([]string, 0, len(list))
		for _, a := range list {
			out = append(out, requote(a.Address))
		}
		return out, nil
	}
	return lenientList(s)
}

// lenientList splits s at top-level commas, drops comments, group names
// and display names, and takes the part in angle brackets when there is
// one.
func lenientList(s string) ([]string, error) {
	var items []string
	var cur strings.Builder
	depth, quoted, angle := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted:
			cur.WriteByte(c)
			if c == '\\' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else if c == '"' {
				quoted = false
			}
		case depth > 0:
			switch c {
			case '\\':
				i++
			case '(':
				depth++
			case ')':
				depth--
			}
		case c == '(':
			depth = 1
			cur.WriteByte(' ')
		case c == '"':
			quoted = true
			cur.WriteByte(c)
		case c == '<':
			if angle {
				return nil, fmt.Errorf("%w: nested < in %q", ErrBadAddress, s)
			}
			angle = true
			cur.WriteByte(c)
		case c == '>':
			angle = false
			cur.WriteByte(c)
		case angle:
			cur.WriteByte(c)
		case c == ',', c == ';':
			items = append(items, cur.String())
			cur.Reset()
		case c == ':':
			cur.Reset() // a group's name
		default:
			cur.WriteByte(c)
		}
	}
	if quoted || depth > 0 || angle {
		return nil, fmt.Errorf("%w: unbalanced quotes, comment or angle brackets in %q", ErrBadAddress, s)
	}
	items = append(items, cur.String())
	var out []string
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		if lt := indexUnquoted(it, '<'); lt >= 0 {
			gt := strings.LastIndexByte(it, '>')
			if gt < lt || strings.TrimSpace(it[gt+1:]) != "" {
				return nil, fmt.Errorf("%w: %q", ErrBadAddress, it)
			}
			it = strings.TrimSpace(it[lt+1 : gt])
			if strings.HasPrefix(it, "@") { // source route
				if _, rest, ok := strings.Cut(it, ":"); ok {
					it = rest
				}
			}
			if it == "" {
				continue // <> in a header means nobody
			}
		}
		if indexUnquoted(it, ' ') >= 0 || indexUnquoted(it, '\t') >= 0 || strings.ContainsAny(it, "<>\r\n") {
			return nil, fmt.Errorf("%w: %q", ErrBadAddress, it)
		}
		out = append(out, requote(unquoteLocal(it)))
	}
	return out, nil
}

// indexUnquoted is strings.IndexByte outside double quotes.
func indexUnquoted(s string, b byte) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == b:
			return i
		}
	}
	return -1
}

// splitAt returns the local part and the domain ("" when unqualified) of
// an address whose local part may be quoted.
func splitAt(addr string) (local, domain string, qualified bool) {
	from := 0
	if strings.HasPrefix(addr, `"`) {
		for i := 1; i < len(addr); i++ {
			if addr[i] == '\\' {
				i++
			} else if addr[i] == '"' {
				from = i + 1
				break
			}
		}
	}
	at := strings.LastIndexByte(addr[from:], '@')
	if at < 0 {
		return addr, "", false
	}
	return addr[:from+at], addr[from+at+1:], true
}

// unquoteLocal turns `"john"@x` into john@x; requote puts quotes back
// where the local part needs them.
func unquoteLocal(addr string) string {
	local, domain, q := splitAt(addr)
	if len(local) < 2 || local[0] != '"' || local[len(local)-1] != '"' {
		return addr
	}
	var b strings.Builder
	for i := 1; i < len(local)-1; i++ {
		if local[i] == '\\' && i+1 < len(local)-1 {
			i++
		}
		b.WriteByte(local[i])
	}
	if !q {
		return b.String()
	}
	return b.String() + "@" + domain
}

// requote quotes the local part of an unquoted address (net/mail's form)
// when it is not a dot-atom, e.g. `john doe@x` -> `"john doe"@x`.
func requote(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	local, rest := addr, ""
	if at >= 0 {
		local, rest = addr[:at], addr[at:]
	}
	if isDotAtom(local) {
		return addr
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(local); i++ {
		if local[i] == '"' || local[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(local[i])
	}
	b.WriteByte('"')
	return b.String() + rest
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80 || c == '.' ||
			strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0) {
			return false
		}
	}
	return true
}

// checkAddress checks an address that may be unqualified.
func checkAddress(addr string) error {
	_, err := qualify(addr, "qualify.invalid")
	return err
}

// qualify appends "@domain" to an unqualified address and checks that the
// result is an address BSMTP can carry.
func qualify(addr, domain string) (string, error) {
	if _, _, q := splitAt(addr); !q {
		if domain == "" {
			return "", fmt.Errorf("%w: %q has no domain and no qualify domain is set", ErrBadAddress, addr)
		}
		addr += "@" + domain
	}
	if err := bsmtp.CheckAddress(addr); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadAddress, err)
	}
	return addr, nil
}

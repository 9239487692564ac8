package submit

import (
	"strconv"
	"strings"

	"ferry/internal/mail/bsmtp"
)

// Envelope returns the BSMTP envelope that carries m: SIZE, BODY=8BITMIME
// for 8-bit content (or -B), SMTPUTF8 for non-ASCII addresses, the DSN
// options of inv (-R, -V, -N) as RET, ENVID and NOTIFY.
func (m *Message) Envelope(inv *Invocation) *bsmtp.Envelope {
	env := &bsmtp.Envelope{From: m.From, To: append([]string(nil), m.To...)}
	env.Params = append(env.Params, bsmtp.Param{Key: "SIZE", Value: strconv.FormatInt(m.Size, 10)})
	switch {
	case m.EightBit || inv.Body == "8BITMIME":
		env.Params = append(env.Params, bsmtp.Param{Key: "BODY", Value: "8BITMIME"})
	case inv.Body == "7BIT":
		env.Params = append(env.Params, bsmtp.Param{Key: "BODY", Value: "7BIT"})
	}
	utf8 := hasEightBit([]byte(m.From))
	for _, a := range m.To {
		utf8 = utf8 || hasEightBit([]byte(a))
	}
	if utf8 {
		env.Params = append(env.Params, bsmtp.Param{Key: "SMTPUTF8"})
	}
	if inv.Return != "" {
		env.Params = append(env.Params, bsmtp.Param{Key: "RET", Value: inv.Return})
	}
	if inv.EnvID != "" {
		env.Params = append(env.Params, bsmtp.Param{Key: "ENVID", Value: xtext(inv.EnvID)})
	}
	if inv.Notify != "" {
		env.RcptParams = make([][]bsmtp.Param, len(env.To))
		for i := range env.To {
			env.RcptParams[i] = []bsmtp.Param{{Key: "NOTIFY", Value: inv.Notify}}
		}
	}
	return env
}

// xtext encodes s as RFC 3461 xtext.
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '+' || c == '=' {
			b.WriteString("+" + strings.ToUpper(strconv.FormatInt(int64(c)+0x100, 16)[1:]))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

package submit

import (
	"errors"
	"fmt"
	"strings"
)

// ErrPacketArgument: an argument an exec packet added to a handle's
// command line that is not data (an option, an address starting with
// "-"). A neighbour chooses those arguments; only the handle's config
// line may give options.
var ErrPacketArgument = errors.New("refused argument from the packet")

// ParseHandle parses the command line of sendmail or rmail run as an exec
// handle: fixed is the part that comes from the handle's config line (its
// options, perhaps recipients), data the arguments the packet added.
// Options come from fixed alone; an option whose value would be the
// packet's first argument is an error.
//
// data is the message's envelope, in one of the two shapes mail packets
// carry: "RCPT..." (the NNCP manual's sendmail handle) or
// "-f SENDER -- RCPT..." (ferry's mode: rmail, its Postfix recipe). -f
// there sets only the envelope sender, which the neighbour gives anyway
// (in a Return-Path or "From " line otherwise). Anything else, and any
// recipient or sender that starts with "-", is ErrPacketArgument.
func ParseHandle(name string, fixed, data []string) (*Invocation, error) {
	var from *string
	rcpts := data
	if len(data) > 0 && data[0] == "-f" {
		if len(data) < 3 || data[2] != "--" {
			return nil, fmt.Errorf("%w: -f from the packet must read -f SENDER -- RCPT..., got %q", ErrPacketArgument, data)
		}
		from, rcpts = &data[1], data[3:]
		if strings.HasPrefix(*from, "-") || strings.ContainsAny(*from, "\r\n\x00") {
			return nil, fmt.Errorf("%w: sender %q", ErrPacketArgument, *from)
		}
	}
	for _, a := range rcpts {
		if a == "" || strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("%w %q: a neighbour may pass recipients (and -f SENDER --) only, and no recipient that starts with \"-\"", ErrPacketArgument, a)
		}
		if strings.ContainsAny(a, "\r\n\x00") {
			return nil, fmt.Errorf("%w %q: control characters", ErrPacketArgument, a)
		}
		// One argument may hold a list ("a@x, b@y"): each address counts.
		list, err := parseAddressList(a)
		if err != nil {
			return nil, fmt.Errorf("%w: recipient %q: %w", ErrUsage, a, err)
		}
		for _, r := range list {
			if strings.HasPrefix(r, "-") {
				return nil, fmt.Errorf("%w %q: a recipient that starts with \"-\"", ErrPacketArgument, a)
			}
		}
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	head := append(append([]string(nil), impliedArgs[name]...), fixed...)
	inv, optEnd, err := parseArgs(append(head, rcpts...))
	if err != nil {
		return nil, err
	}
	if optEnd > len(head) {
		return nil, fmt.Errorf("%w %q: the handle line ends with an option that needs a value", ErrPacketArgument, rcpts[0])
	}
	if from != nil {
		if inv.From != "" || inv.NullSender {
			return nil, fmt.Errorf("%w: -f %q: the handle line already sets the sender", ErrPacketArgument, *from)
		}
		if err := inv.sender("-f", *from); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrPacketArgument, err)
		}
	}
	return inv, nil
}

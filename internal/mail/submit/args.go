package submit

import (
	"fmt"
	"strconv"
	"strings"
)

// Mode is what an invocation asks for (the -b option, -q, --version).
type Mode int

// Modes.
const (
	ModeDeliver    Mode = iota // -bm (default): read a message on stdin and send it
	ModeSMTP                   // -bs: SMTP dialogue on stdin and stdout
	ModeBSMTP                  // -bS: a BSMTP batch on stdin (what rsmtp runs)
	ModeListQueue              // -bp, or called as mailq: list the queue
	ModeQueueRun               // -q...: run the queue; ferry has nothing to run, a no-op
	ModeNewAliases             // -bi, or called as newaliases: no alias database, a no-op
	ModeVersion                // -bV, --version: print the version
	ModeHelp                   // --help
)

var modeNames = [...]string{"deliver", "smtp", "bsmtp", "list-queue", "queue-run", "new-aliases", "version", "help"}

func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// Invocation is a parsed sendmail command line.
type Invocation struct {
	Mode Mode
	// Recipients are the addresses given as arguments (each argument may
	// hold a comma-separated list), in order, as written: unqualified
	// names like "root" are qualified by Prepare. With -t they are the
	// addresses NOT to send to (Exim's rule).
	Recipients []string
	// From is the envelope sender from -f or -r ("" when not given).
	From string
	// NullSender is set by -f "<>" or -f "": the message is a bounce
	// (MAIL FROM:<>).
	NullSender bool
	// FullName is the sender's full name from -F, used in an added From.
	FullName string
	// ExtractRecipients (-t) takes the recipients from the To, Cc and Bcc
	// header fields (or Resent-To, Resent-Cc, Resent-Bcc when the header
	// has any Resent- field).
	ExtractRecipients bool
	// IgnoreDots (-i, -oi) keeps a line holding a single "." as message
	// text; without it such a line ends the message.
	IgnoreDots bool
	// DeliveryMode is the letter(s) of -od (i, b, q, f, qs); accepted,
	// ferry always queues.
	DeliveryMode string
	// ErrorMode is the letter of -oe or -e (m, e, p, q, w): how the
	// caller wants errors reported. Accepted; errors go to stderr and the
	// exit code.
	ErrorMode string
	// Verbose is -v.
	Verbose bool
	// Notify is -N: "NEVER" or a comma-separated list of SUCCESS,
	// FAILURE, DELAY (upper case), as in the RCPT NOTIFY parameter; "" when
	// not given.
	Notify string
	// Return is -R: "FULL" or "HDRS"; "" when not given.
	Return string
	// EnvID is -V, the DSN envelope id (as given, not xtext-encoded).
	EnvID string
	// Body is -B: "7BIT" or "8BITMIME"; "" when not given.
	Body string
	// ConfigPath is -C: ferry's own config file.
	ConfigPath string
	// Label (-L) and LogFile (-X) are accepted and kept for logging.
	Label, LogFile string
	// QueueRun is the value of -q (may be empty), for ModeQueueRun.
	QueueRun string
	// Ignored lists the options accepted without effect (-odb, -oMr x,
	// -O k=v, -G, -U, -n, -m, -h N, -p proto, -Ac ...), as written.
	Ignored []string
}

// Exim's -oM* and a few other -o options take their value from the next
// argument.
var oNextArg = map[string]bool{
	"A": true, "Ma": true, "Maa": true, "Mai": true, "Mas": true, "Mi": true,
	"Mm": true, "Mr": true, "Ms": true, "Mt": true, "P": true, "X": true, "r": true, "s": true,
}

// Single-letter options: those taking a value (joined, -fADDR, or the next
// argument, -f ADDR), flags, and those with an optional joined value.
const (
	valueLetters    = "fFrboONRVBLXChpAe"
	flagLetters     = "tivnmGU"
	optionalLetters = "qd"
)

// impliedArgs are the options a program name stands for, as in Exim.
var impliedArgs = map[string][]string{
	"mailq":      {"-bp"},
	"newaliases": {"-bi"},
	"rmail":      {"-i", "-oee"},
	"rsmtp":      {"-bS"},
	"runq":       {"-q"},
}

// ParseCommand is ParseArgs for a program called as name (argv[0], any
// directory): mailq means -bp, newaliases -bi, rmail -i -oee, rsmtp -bS,
// runq -q, as with Exim; any other name (sendmail) adds nothing.
func ParseCommand(name string, args []string) (*Invocation, error) {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return ParseArgs(append(append([]string(nil), impliedArgs[name]...), args...))
}

// ParseArgs parses a sendmail command line (without the program name).
// Options come first; getopt-style clusters are accepted ("-ti", "-tf
// root", "-FCronDaemon"); "--" ends the options. Every argument after the
// options is a recipient. An option after a recipient is an error (it would
// silently become an address otherwise); put "--" before addresses that
// start with "-".
func ParseArgs(args []string) (*Invocation, error) {
	inv, _, err := parseArgs(args)
	return inv, err
}

// parseArgs is ParseArgs that also says how many of args were options
// (and their values, and a "--").
func parseArgs(args []string) (*Invocation, int, error) {
	inv := &Invocation{Mode: ModeDeliver}
	i, dashdash := 0, false
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i, dashdash = i+1, true
			break
		}
		if a == "-" {
			return nil, 0, fmt.Errorf("%w: a lone \"-\" is neither an option nor an address", ErrUsage)
		}
		if !strings.HasPrefix(a, "-") {
			break
		}
		switch a {
		case "--version":
			inv.Mode = ModeVersion
			continue
		case "--help", "-help":
			inv.Mode = ModeHelp
			continue
		case "-h":
			// -h N is sendmail's hop count (ignored, as by Exim); a bare
			// -h at the end asks for help.
			if i+1 == len(args) {
				inv.Mode = ModeHelp
				continue
			}
		}
		if strings.HasPrefix(a, "--") {
			return nil, 0, fmt.Errorf("%w: unknown option %s", ErrUsage, a)
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			switch {
			case strings.IndexByte(flagLetters, c) >= 0:
				inv.flag(c)
			case strings.IndexByte(optionalLetters, c) >= 0:
				if err := inv.option(c, a[j+1:]); err != nil {
					return nil, 0, err
				}
				j = len(a)
			case strings.IndexByte(valueLetters, c) >= 0:
				val := a[j+1:]
				if val == "" || c == 'o' && oNextArg[val] {
					if i+1 >= len(args) {
						return nil, 0, fmt.Errorf("%w: option %s needs a value", ErrUsage, a)
					}
					i++
					if c == 'o' && val != "" {
						inv.Ignored = append(inv.Ignored, a, args[i])
						j = len(a)
						continue
					}
					val = args[i]
				}
				if err := inv.option(c, val); err != nil {
					return nil, 0, err
				}
				j = len(a)
			default:
				return nil, 0, fmt.Errorf("%w: unknown option -%c (in %q)", ErrUsage, c, a)
			}
		}
	}
	optEnd := i
	for ; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") && !dashdash {
			return nil, 0, fmt.Errorf("%w: option %s after the recipient %s (options go first; use -- before addresses starting with -)", ErrUsage, a, inv.Recipients[len(inv.Recipients)-1])
		}
		list, err := parseAddressList(a)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: recipient %q: %w", ErrUsage, a, err)
		}
		if len(list) == 0 {
			return nil, 0, fmt.Errorf("%w: recipient argument %q holds no address", ErrUsage, a)
		}
		for _, r := range list {
			if err := checkAddress(r); err != nil {
				return nil, 0, fmt.Errorf("%w: recipient: %w", ErrUsage, err)
			}
		}
		inv.Recipients = append(inv.Recipients, list...)
	}
	if inv.Mode == ModeDeliver && !inv.ExtractRecipients && len(inv.Recipients) == 0 {
		return nil, 0, fmt.Errorf("%w: no recipients: give addresses as arguments, or -t to read them from the message", ErrUsage)
	}
	return inv, optEnd, nil
}

func (inv *Invocation) flag(c byte) {
	switch c {
	case 't':
		inv.ExtractRecipients = true
	case 'i':
		inv.IgnoreDots = true
	case 'v':
		inv.Verbose = true
	default: // n, m, G, U
		inv.Ignored = append(inv.Ignored, "-"+string(c))
	}
}

// option applies one option letter with its value.
func (inv *Invocation) option(c byte, val string) error {
	opt := "-" + string(c)
	switch c {
	case 'f', 'r':
		return inv.sender(opt, val)
	case 'F':
		inv.FullName = val
	case 'b':
		return inv.mode(val)
	case 'o':
		return inv.oOption(val)
	case 'e':
		if len(val) != 1 || strings.IndexByte("mepqw", val[0]) < 0 {
			return fmt.Errorf("%w: -e%s: error mode must be one of m, e, p, q, w", ErrUsage, val)
		}
		inv.ErrorMode = val
	case 'N':
		n, err := parseNotify(val)
		if err != nil {
			return err
		}
		inv.Notify = n
	case 'R':
		switch v := strings.ToUpper(val); v {
		case "FULL", "HDRS":
			inv.Return = v
		default:
			return fmt.Errorf("%w: -R %s: want full or hdrs", ErrUsage, val)
		}
	case 'V':
		if len(val) > 100 || strings.ContainsFunc(val, func(r rune) bool { return r < 33 || r > 126 }) {
			return fmt.Errorf("%w: -V %q: the envelope id must be at most 100 printable ASCII characters", ErrUsage, val)
		}
		inv.EnvID = val
	case 'B':
		switch v := strings.ToUpper(val); v {
		case "7BIT", "8BITMIME":
			inv.Body = v
		default:
			return fmt.Errorf("%w: -B %s: want 7BIT or 8BITMIME", ErrUsage, val)
		}
	case 'L':
		inv.Label = val
	case 'X':
		inv.LogFile = val
	case 'C':
		inv.ConfigPath = val
	case 'q':
		inv.Mode, inv.QueueRun = ModeQueueRun, val
	case 'h':
		if _, err := strconv.ParseUint(val, 10, 16); err != nil {
			return fmt.Errorf("%w: -h %s: the hop count must be a number", ErrUsage, val)
		}
		inv.Ignored = append(inv.Ignored, opt+val)
	default: // O, p, A, d
		inv.Ignored = append(inv.Ignored, opt+val)
	}
	return nil
}

func (inv *Invocation) sender(opt, val string) error {
	v := strings.TrimSpace(val)
	if v == "" || v == "<>" {
		inv.From, inv.NullSender = "", true
		return nil
	}
	list, err := parseAddressList(v)
	if err != nil {
		return fmt.Errorf("%w: %s %q: %w", ErrUsage, opt, val, err)
	}
	if len(list) != 1 {
		return fmt.Errorf("%w: %s %q: want one address", ErrUsage, opt, val)
	}
	if err := checkAddress(list[0]); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUsage, opt, err)
	}
	inv.From, inv.NullSender = list[0], false
	return nil
}

func (inv *Invocation) mode(val string) error {
	switch val {
	case "m":
		inv.Mode = ModeDeliver
	case "s":
		inv.Mode = ModeSMTP
	case "S":
		inv.Mode = ModeBSMTP
	case "p":
		inv.Mode = ModeListQueue
	case "i":
		inv.Mode = ModeNewAliases
	case "V":
		inv.Mode = ModeVersion
	case "v":
		return fmt.Errorf("%w: -bv (verify addresses): ferry routes every address to its hub and cannot verify it here", ErrUnsupported)
	default:
		return fmt.Errorf("%w: -b%s: ferry's sendmail knows -bm, -bs, -bS, -bp, -bi and -bV", ErrUnsupported, val)
	}
	return nil
}

// oOption handles -oX: -oi, -oe?, -od?; Exim's -oM* and friends that take
// the next argument are handled by ParseArgs; everything else is accepted
// and ignored, as sendmail does with options it does not know.
func (inv *Invocation) oOption(val string) error {
	switch {
	case val == "i":
		inv.IgnoreDots = true
	case strings.HasPrefix(val, "e"):
		if len(val) != 2 || strings.IndexByte("mepqw", val[1]) < 0 {
			return fmt.Errorf("%w: -o%s: error mode must be one of -oem, -oee, -oep, -oeq, -oew", ErrUsage, val)
		}
		inv.ErrorMode = val[1:]
	case strings.HasPrefix(val, "d"):
		switch m := val[1:]; m {
		case "i", "b", "q", "f", "qs":
			inv.DeliveryMode = m
		default:
			return fmt.Errorf("%w: -o%s: delivery mode must be one of -odi, -odb, -odq, -odf", ErrUsage, val)
		}
	default:
		inv.Ignored = append(inv.Ignored, "-o"+val)
	}
	return nil
}

func parseNotify(val string) (string, error) {
	v := strings.ToUpper(strings.ReplaceAll(val, " ", ""))
	if v == "NEVER" {
		return v, nil
	}
	seen := map[string]bool{}
	for _, w := range strings.Split(v, ",") {
		if seen[w] || (w != "SUCCESS" && w != "FAILURE" && w != "DELAY") {
			return "", fmt.Errorf("%w: -N %s: want never, or a list of success, failure, delay", ErrUsage, val)
		}
		seen[w] = true
	}
	return v, nil
}

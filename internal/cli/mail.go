package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"ferry/internal/config"
	"ferry/internal/mail/bsmtp"
	"ferry/internal/mail/mta"
	"ferry/internal/mail/submit"
	"ferry/internal/tempfail"
	"ferry/internal/toss"
	"ferry/internal/wire"
)

func init() {
	register("sendmail", &command{summary: "sendmail-compatible mail submission (also runs as a sendmail symlink)", run: runSendmail})
	register("rmail", &command{summary: "receive one message: rmail [-f SENDER] RCPT... (an exec handle, or local submission)", run: runSendmail})
	register("mailq", &command{summary: "list mail queued, carried, delivered or bounced; -rm ID cancels", run: runMailq})
	register("rsmtp", &command{summary: "exec handle: receive a BSMTP batch from NNCP_SENDER and deliver it", run: runRsmtp})
}

// Exit statuses (sysexits.h) of the mail commands.
const (
	exDataErr  = 65
	exNoUser   = 67
	exSoftware = 70
	exTempFail = 75
	exConfig   = 78
)

// mailSetup loads the config (path from -C, $NNCPCFG or the default) and
// opens the mail system.
func (x *ctx) mailSetup(cfgPath string) (*mta.MTA, error) {
	if cfgPath != "" {
		x.cfgPath = cfgPath
	}
	if err := x.setup(); err != nil {
		if tempfail.Is(err) {
			// the spool or the log, not the config: try again later
			return nil, exitCode(exTempFail, err)
		}
		return nil, exitCode(exConfig, err)
	}
	if x.cfg.Self == nil {
		return nil, exitCode(exConfig, errors.New("the config has no self section (private keys)"))
	}
	m, err := mta.New(x.cfg, x.spool, mailLogger{x})
	if err != nil {
		if errors.Is(err, mta.ErrNoMailConfig) {
			return nil, exitCode(exConfig, fmt.Errorf("%w in %s", err, x.cfg.Path))
		}
		return nil, exitCode(exTempFail, err)
	}
	return m, nil
}

// mailUsage is the -h / --help text of sendmail, rmail and mailq.
func mailUsage(name, prog string) string {
	head := fmt.Sprintf("%s\n\n%s -- %s\n\n", versionLine(), prog, commands[name].summary)
	switch name {
	case "rmail":
		return head + "Usage: " + prog + ` [-f SENDER] RECIPIENT...
Reads one message from stdin and submits it for the recipients, with the
dot rule off (rmail means sendmail -i -oee). Run as an exec handle
($NNCP_SENDER set), it takes its options from the handle's config line only
and the packet's words as recipients.
Options:
  -f SENDER   envelope sender (default: the invoking user at mail.domain)
  -C CONFIG   config file (default $NNCPCFG, else /etc/nncp.hjson)
  -v          say more (the note about neighbours nothing carries mail to)
`
	}
	return head + "Usage: " + prog + ` [options] [RECIPIENT...]
Options (sendmail's, as Exim reads them):
  -t          take the recipients from To, Cc and Bcc (RECIPIENTs are then excluded)
  -i, -oi     a line holding a single "." does not end the message
  -f SENDER   envelope sender; -f "<>" for a bounce
  -F NAME     full name for an added From field
  -C CONFIG   config file (default $NNCPCFG, else /etc/nncp.hjson)
  -bm         deliver the message on stdin (the default)
  -bs         speak SMTP on stdin and stdout
  -bS         read a BSMTP batch from stdin
  -bp         list the mail queue (as mailq)
  -q          run the mail queue
  -odq        queue only, deliver on the next queue run
  -v          say more (the note about neighbours nothing carries mail to)
  --version   print the version
`
}

// mailExit maps a submission error to sendmail's exit status.
func mailExit(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	switch {
	case errors.Is(err, mta.ErrUnknownUser):
		return exitCode(exNoUser, err)
	case mta.IsPermanent(err):
		return exitCode(exDataErr, err)
	case errors.Is(err, submit.ErrUsage), errors.Is(err, submit.ErrUnsupported),
		errors.Is(err, submit.ErrBadAddress), errors.Is(err, submit.ErrNoRecipients), errors.Is(err, submit.ErrHeaderTooLarge):
		return exitCode(submit.ExitCode(err), err)
	}
	return exitCode(exTempFail, err)
}

func runSendmail(x *ctx, args []string) error {
	if x.inHandle() {
		return x.sendmailHandle(args)
	}
	inv, err := submit.ParseCommand(x.name, args)
	if err != nil {
		return mailExit(err)
	}
	x.quiet = !inv.Verbose
	switch inv.Mode {
	case submit.ModeVersion:
		fmt.Fprintln(x.Stdout, versionLine())
		return nil
	case submit.ModeHelp:
		fmt.Fprint(x.Stdout, mailUsage(x.name, x.prog))
		return nil
	case submit.ModeNewAliases:
		fmt.Fprintln(x.Stderr, "ferry has no alias database: mail.users in the config maps local names")
		return nil
	}
	m, err := x.mailSetup(inv.ConfigPath)
	if err != nil {
		return err
	}
	switch inv.Mode {
	case submit.ModeListQueue:
		return x.printQueue(m, false)
	case submit.ModeQueueRun:
		return mailExit(m.RunQueue())
	case submit.ModeBSMTP:
		return x.submitBSMTP(m, x.Stdin)
	case submit.ModeSMTP:
		return x.smtpStdio(m)
	}
	msg, err := submit.Prepare(x.Stdin, inv, submit.PrepareOptions{Domain: m.Domain(), Hostname: m.Domain(), TmpDir: x.spool.TmpDir()})
	if err != nil {
		return mailExit(err)
	}
	defer msg.Close()
	if msg.DotEnded {
		fmt.Fprintf(x.Stderr, "%s: warning: the message ended at a line holding a single \".\"; use -i or -oi to send such lines\n", x.prog)
	}
	sub := &mta.Message{Env: msg.Envelope(inv), Size: msg.Size,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(msg.Reader()), nil }}
	res, err := m.Submit(sub, mta.SubmitOptions{QueueOnly: inv.DeliveryMode == "q"})
	if err != nil {
		return mailExit(err)
	}
	x.warnUnreachable(m, res, inv.Verbose)
	return nil
}

// warnUnreachable says so when mail waits for a node nothing will ever
// carry it to (no addresses, no calls): once, with the first message for
// that node, or every time with -v (verbose). Mail sent that way on
// purpose (a stick, a bundle) is not worth a note on every submission.
func (x *ctx) warnUnreachable(m *mta.MTA, res *mta.Submitted, verbose bool) {
	for _, s := range res.Packets {
		n, err := x.cfg.Node(s.Node)
		if err != nil {
			continue
		}
		hop := n
		if len(n.Via) > 0 {
			if h, ok := x.cfg.ByID[n.Via[0]]; ok {
				hop = h
			}
		}
		if len(hop.Addrs) == 0 && len(hop.Calls) == 0 && (verbose || m.FirstThrough(s)) {
			fmt.Fprintf(x.Stderr, "%s: note: mail for %s waits in the spool until it is carried to %s (it has no addrs or calls: use ferry xfer or bundle); said once, -v says it every time\n",
				x.prog, strings.Join(s.To, ", "), hop.Name)
		}
	}
}

// submitBSMTP submits every transaction of a BSMTP batch from stdin
// (sendmail -bS on the sending side). A bad transaction is reported and
// does not stop the others; the exit status says the worst.
func (x *ctx) submitBSMTP(m *mta.MTA, in io.Reader) error {
	dir := x.spool.TmpDir()
	r := bsmtp.NewReader(in)
	var worst error
	for {
		env, body, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(x.Stderr, "%s: %v\n", x.prog, err)
			worst = exitCode(exDataErr, nil)
			var be *bsmtp.Error
			if !errors.As(err, &be) {
				return mailExit(err)
			}
			continue
		}
		f, err := os.CreateTemp(dir, "bsmtp-*")
		if err != nil {
			return mailExit(err)
		}
		os.Remove(f.Name())
		n, err := io.Copy(f, body)
		if err != nil {
			f.Close()
			fmt.Fprintf(x.Stderr, "%s: %v\n", x.prog, err)
			worst = exitCode(exDataErr, nil)
			continue
		}
		sub := &mta.Message{Env: env, Size: n, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(io.NewSectionReader(f, 0, n)), nil
		}}
		_, err = m.Submit(sub, mta.SubmitOptions{})
		f.Close()
		if err != nil {
			fmt.Fprintf(x.Stderr, "%s: <%s>: %v\n", x.prog, env.From, err)
			if worst == nil || !mta.IsPermanent(err) {
				worst = mailExit(err)
			}
		}
	}
	return worst
}

// runRsmtp is the exec handle for BSMTP batches from a neighbour
// (exec: {rsmtp: ["/usr/bin/ferry", "rsmtp"]}). It exits 0 once every
// message is safely in the mail queue (or, if malformed, kept aside), and
// then tries to deliver them.
//
// Run by a tosser, its options come from the handle's config line only:
// an argument the packet added is refused (exit 77, the packet is kept).
func runRsmtp(x *ctx, args []string) error {
	if x.inHandle() {
		fixed, data, err := x.splitHandle(args, cfgFlagValues)
		if err != nil {
			return err
		}
		if len(data) > 0 {
			return exitCode(exNoPerm, fmt.Errorf("%w %q: rsmtp takes no arguments from the packet; its options come from the handle's config line",
				submit.ErrPacketArgument, data))
		}
		args = fixed
	}
	fs := x.flags("[-cfg FILE] (an exec handle: NNCP_SENDER says who sent the batch on stdin)")
	queueOnly := fs.Bool("odq", false, "Only queue: leave delivery to the next queue run")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	m, err := x.mailSetup("")
	if err != nil {
		return err
	}
	return x.receiveBSMTP(m, *queueOnly)
}

// sendmailHandle is sendmail or rmail run as an exec handle: mail from
// the neighbour NNCP_SENDER, with the recipients (and nothing else) from
// the packet's arguments; -bS on the handle's line takes a BSMTP batch, as
// rsmtp does.
func (x *ctx) sendmailHandle(args []string) error {
	fixed, data, err := x.splitHandle(args, dashCValues)
	if err != nil {
		return err
	}
	inv, err := submit.ParseHandle(x.name, fixed, data)
	if errors.Is(err, submit.ErrPacketArgument) {
		return exitCode(exNoPerm, err)
	}
	if err != nil {
		return mailExit(err)
	}
	x.quiet = !inv.Verbose
	if inv.Mode != submit.ModeDeliver && inv.Mode != submit.ModeBSMTP {
		return exitCode(exNoPerm, fmt.Errorf("%s as an exec handle only takes mail (the default, or -bS): not %s", x.name, strings.Join(fixed, " ")))
	}
	m, err := x.mailSetup(inv.ConfigPath)
	if err != nil {
		return err
	}
	if inv.Mode == submit.ModeBSMTP {
		return x.receiveBSMTP(m, inv.DeliveryMode == "q")
	}
	return x.rmailHandle(m, inv)
}

// receiveBSMTP takes a batch from the neighbour NNCP_SENDER on stdin.
func (x *ctx) receiveBSMTP(m *mta.MTA, queueOnly bool) error {
	origin, err := x.origin()
	if err != nil {
		return err
	}
	res, err := m.ReceiveBSMTP(x.Stdin, origin, mta.ReceiveOptions{QueueOnly: queueOnly})
	if err != nil {
		return mailExit(err)
	}
	if res.Quarantined != "" {
		fmt.Fprintf(x.Stderr, "%s: malformed parts of the batch from %s kept in %s: %v\n", x.prog, origin.Name, res.Quarantined, errors.Join(res.BadErrs...))
	}
	return nil
}

// origin is the neighbour named by $NNCP_SENDER.
func (x *ctx) origin() (*config.Neighbour, error) {
	s := x.Getenv("NNCP_SENDER")
	if s == "" {
		return nil, exitCode(exSoftware, errors.New("NNCP_SENDER is not set: this command runs as an exec handle (exec: {rsmtp: [\"/usr/bin/ferry\", \"rsmtp\"]})"))
	}
	n, err := x.cfg.Node(s)
	if err != nil {
		return nil, exitCode(exConfig, err)
	}
	return n, nil
}

func (x *ctx) rmailHandle(m *mta.MTA, inv *submit.Invocation) error {
	origin, err := x.origin()
	if err != nil {
		return err
	}
	from := inv.From
	if inv.NullSender {
		from = ""
	}
	res, err := m.ReceiveRmail(x.Stdin, from, inv.From != "" || inv.NullSender, inv.Recipients, origin, mta.ReceiveOptions{QueueOnly: inv.DeliveryMode == "q"})
	if err != nil {
		return mailExit(err)
	}
	if len(res.BadErrs) > 0 {
		return exitCode(exDataErr, errors.Join(res.BadErrs...))
	}
	return nil
}

// mailLogger writes the mail system's events to the log.
type mailLogger struct{ x *ctx }

func (l mailLogger) Mail(ev *mta.Event) {
	f := []kv{{"ID", ev.ID}}
	// Every event is about a message, whose sender is known (<> for the
	// null sender), but a quarantined batch: its ID names a batch file.
	if ev.What != "quarantined" {
		from := ev.From
		if from == "" {
			from = "<>"
		}
		f = append(f, kv{"From", from})
	}
	if len(ev.Rcpts) > 0 {
		f = append(f, kv{"To", strings.Join(ev.Rcpts, ", ")})
	}
	if ev.Via != "" {
		f = append(f, kv{"Via", ev.Via})
	}
	if ev.Pkt != "" {
		f = append(f, kv{"Pkt", ev.Pkt})
	}
	if ev.Size > 0 {
		f = append(f, kv{"Size", itoa(ev.Size)})
	}
	msg := fmt.Sprintf("Mail %s %s", ev.ID, ev.What)
	if len(ev.Rcpts) > 0 {
		msg += " for " + strings.Join(ev.Rcpts, ", ")
	}
	if ev.Via != "" {
		msg += " via " + ev.Via
	}
	if ev.Err != nil {
		l.x.log.fail("mail-"+ev.What, f, ev.Err, msg)
		return
	}
	l.x.log.info("mail-"+ev.What, f, msg)
}

// mailOnToss returns what lets the mail system see ACKs for packets it
// sent, for a toss to call on each packet processed (nil: no mail).
func (x *ctx) mailOnToss() func(*toss.Event) {
	if x.cfg.Mail == nil {
		return nil
	}
	m, err := mta.New(x.cfg, x.spool, mailLogger{x})
	if err != nil {
		return nil
	}
	return func(ev *toss.Event) {
		if ev.Type == wire.TypeACK && ev.Outcome == toss.Done {
			m.NoteACK(ev.Dst)
		}
	}
}

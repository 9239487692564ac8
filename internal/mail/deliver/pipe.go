package deliver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Pipe runs a command with the message on its standard input, as Exim's
// pipe transport does.
//
// Argv is executed directly: no shell, no expansion of variables in the
// arguments, so an address never reaches a shell or a file name (the
// taint problem Exim solves with $local_part_data). The command learns the
// envelope from its environment, which holds only:
//
//	SENDER       the envelope sender, "" for a bounce
//	RECIPIENT    the recipient address        (one process per recipient)
//	LOCAL_PART   its local part               (one process per recipient)
//	DOMAIN       its domain                   (one process per recipient)
//	MESSAGE_ID   Message.ID, the queue id
//	PATH         Pipe.Path
//	SHELL        /bin/sh
//
// followed by Pipe.Env.
//
// By default one process runs per recipient, with its own Delivered-To
// line. With Batch, one process gets the message once for all recipients,
// with an "Envelope-to: a, b" line instead (RECIPIENT, LOCAL_PART and
// DOMAIN are then set only when there is a single recipient) and its exit
// status applies to all of them.
//
// The outcome, like Exim with its default temp_errors:
//
//   - exit 0: delivered, even if the command did not read all its input;
//   - an exit code in TempErrors (73 EX_CANTCREAT, 75 EX_TEMPFAIL): 451
//     4.3.0, temporary;
//   - any other exit code: 554 5.3.0, permanent;
//   - killed by a signal, failed to start, or Timeout reached: temporary
//     (a signal is usually the OOM killer or an administrator; a command
//     that cannot start is a configuration problem), Timeout wraps
//     ErrTimeout. Exim bounces the first and the last by default
//     (timeout_defer = false); ferry prefers to keep the message.
//
// The command runs in its own process group, which is killed on timeout,
// on cancellation, and when the message cannot be read whole (so the
// command never sees the end of a truncated message). Its standard output
// and error are collected, up to MaxOutput bytes, into the error text.
type Pipe struct {
	// Argv is the command and its arguments.
	Argv []string
	// Env holds extra "KEY=value" entries for the environment.
	Env []string
	// Dir is the working directory; "" means "/".
	Dir string
	// Path is the PATH variable; "" means "/usr/local/bin:/usr/bin:/bin".
	Path string
	// Timeout for one run; 0 means 1 hour (Exim's default).
	Timeout time.Duration
	// TempErrors are the exit codes that mean "try again later"; nil
	// means 73 and 75.
	TempErrors []int
	// Batch: one process for all recipients.
	Batch bool
	// NoTraceHeaders: do not add Return-Path and Delivered-To (or
	// Envelope-to).
	NoTraceHeaders bool
	// MaxOutput is how much of the command's output is kept; 0 means
	// 1024 bytes.
	MaxOutput int
}

// Deliver runs the command once per recipient (once in all with Batch).
func (p Pipe) Deliver(ctx context.Context, msg *Message, rcpts []string) []Result {
	if len(p.Argv) == 0 {
		return results(rcpts, newError(451, "4.3.5", nil, "pipe: no command configured"))
	}
	if p.Batch && len(rcpts) > 0 {
		if err := checkEnvelope(msg.From, rcpts...); err != nil {
			return results(rcpts, err)
		}
		info, err := p.run(ctx, msg, rcpts)
		out := results(rcpts, err)
		if err == nil {
			for i := range out {
				out[i].Info = info
			}
		}
		return out
	}
	return each(rcpts, func(rcpt string) (string, *Error) {
		if err := checkEnvelope(msg.From, rcpt); err != nil {
			return "", err
		}
		return p.run(ctx, msg, []string{rcpt})
	})
}

func (p Pipe) run(ctx context.Context, msg *Message, rcpts []string) (string, *Error) {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	src, serr := openSource(ctx, msg)
	if serr != nil {
		return "", serr
	}
	defer src.Close()

	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, p.Argv[0], p.Argv[1:]...)
	cmd.Env = p.env(msg, rcpts)
	cmd.Dir = p.Dir
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 10 * time.Second
	max := p.MaxOutput
	if max <= 0 {
		max = 1024
	}
	out := &capped{max: max}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		return "", newError(451, "4.3.0", err, "pipe %s: cannot run: %v", p.Argv[0], err)
	}

	br := bufio.NewReaderSize(src, 64<<10)
	w := bufio.NewWriterSize(stdin, 64<<10)
	if !p.NoTraceHeaders {
		head, _ := br.Peek(br.Size())
		w.WriteString(traceHeaders(msg.From, rcpts, lineEnding(head)))
	}
	stop := context.AfterFunc(rctx, func() { stdin.Close() }) // unblocks a write nobody reads
	defer stop()
	_, err = io.Copy(w, br)
	if err == nil {
		err = w.Flush()
	}
	bad := src.failed()
	if bad == nil && err == nil {
		bad = src.short(msg.Size)
	}
	if bad != nil {
		// Kill before closing stdin: the command must not take what it got
		// for the whole message.
		killGroup(cmd)
		stdin.Close()
		cmd.Wait()
		return "", bad
	}
	stdin.Close() // a write error (EPIPE: the command stopped reading) is judged by the exit status
	werr := cmd.Wait()

	what := "pipe " + strings.Join(p.Argv, " ")
	output := oneLine(out.String())
	switch {
	case ctx.Err() != nil:
		return "", newError(451, "4.3.0", ctx.Err(), "%s: canceled: %v", what, ctx.Err())
	case rctx.Err() != nil:
		return "", newError(451, "4.3.0", ErrTimeout, "%s: timed out after %v%s", what, timeout, withOutput(output))
	}
	st := cmd.ProcessState
	if st == nil {
		return "", newError(451, "4.3.0", werr, "%s: %v", what, werr)
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "", newError(451, "4.3.0", werr, "%s: killed by signal %v%s", what, ws.Signal(), withOutput(output))
	}
	code := st.ExitCode()
	temp := p.TempErrors
	if temp == nil {
		temp = []int{73, 75}
	}
	switch {
	case code == 0:
		return what, nil
	case slices.Contains(temp, code):
		return "", newError(451, "4.3.0", werr, "%s: exit status %d (temporary failure)%s", what, code, withOutput(output))
	default:
		return "", newError(554, "5.3.0", werr, "%s: exit status %d%s", what, code, withOutput(output))
	}
}

func withOutput(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// env returns the command's environment.
func (p Pipe) env(msg *Message, rcpts []string) []string {
	path := p.Path
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	env := []string{"SENDER=" + msg.From, "MESSAGE_ID=" + msg.ID, "PATH=" + path, "SHELL=/bin/sh"}
	if len(rcpts) == 1 {
		local, domain := splitAddress(rcpts[0])
		env = append(env, "RECIPIENT="+rcpts[0], "LOCAL_PART="+local, "DOMAIN="+domain)
	}
	return append(env, p.Env...)
}

// killGroup kills the command's process group.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("killing process group %d: %w", cmd.Process.Pid, err)
	}
	return nil
}

// capped keeps the first max bytes written to it and drops the rest.
type capped struct {
	mu  sync.Mutex
	max int
	b   []byte
	cut bool
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - len(c.b)
	if len(p) > room {
		c.cut = true
	}
	if room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.TrimSpace(string(c.b))
	if c.cut {
		s += " ..."
	}
	return s
}

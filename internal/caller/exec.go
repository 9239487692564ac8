package caller

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"ferry/internal/logrec"
)

// CallArgs is nncp-call's command line for spec: its options, then
// NODE[:ADDR] [FORCEADDR]. Settings the spec leaves at zero are not
// passed (the called program reads the node's own from the config).
func CallArgs(spec CallSpec) []string {
	args := []string{"-nice", strconv.Itoa(int(spec.Nice))}
	switch spec.Xx {
	case "rx":
		args = append(args, "-rx")
	case "tx":
		args = append(args, "-tx")
	}
	for _, o := range []struct {
		name string
		v    int
	}{
		{"-rxrate", spec.RxRate}, {"-txrate", spec.TxRate},
		{"-onlinedeadline", spec.OnlineDeadline}, {"-maxonlinetime", spec.MaxOnlineTime},
	} {
		if o.v > 0 {
			args = append(args, o.name, strconv.Itoa(o.v))
		}
	}
	if spec.NoCK {
		args = append(args, "-nock")
	}
	a := spec.AutoToss
	for _, f := range []struct {
		name string
		on   bool
	}{
		{"-autotoss", a.Enabled}, {"-autotoss-seen", a.DoSeen},
		{"-autotoss-nofile", a.NoFile}, {"-autotoss-nofreq", a.NoFreq}, {"-autotoss-noexec", a.NoExec},
		{"-autotoss-notrns", a.NoTrns}, {"-autotoss-noarea", a.NoArea}, {"-autotoss-noack", a.NoACK},
	} {
		if f.on {
			args = append(args, f.name)
		}
	}
	name := spec.Node.Name
	switch _, isKey := spec.Node.Addrs[spec.Addr]; {
	case spec.Addr == "":
		args = append(args, name)
	case isKey:
		args = append(args, name+":"+spec.Addr)
	default:
		args = append(args, name, spec.Addr)
	}
	return args
}

// ExecDialer makes each call by running a program with nncp-call's
// command line: "ferry call" (Path this binary, Args {"call", "-cfg", ...})
// or the real nncp-call.
type ExecDialer struct {
	Path string
	// Args come before CallArgs (the subcommand, -cfg, -spool, -log, -quiet...).
	Args           []string
	Env            []string // nil: this process's environment
	Stdout, Stderr io.Writer
	// Log gets a record when the program cannot be started.
	Log Log
	// Grace is how long a call may take to end after SIGTERM, once the
	// caller is stopping, before it is killed (default 10 s).
	Grace time.Duration
}

// Dial runs the program for spec and waits for it. When ctx ends the
// program gets SIGTERM, and SIGKILL after Grace.
func (d *ExecDialer) Dial(ctx context.Context, spec CallSpec) error {
	cmd := exec.CommandContext(ctx, d.Path, append(append([]string{}, d.Args...), CallArgs(spec)...)...)
	cmd.Env = d.Env
	cmd.Stdout, cmd.Stderr = d.Stdout, d.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = d.Grace
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = 10 * time.Second
	}
	if err := cmd.Start(); err != nil {
		if d.Log != nil {
			d.Log.Error(logrec.Rec{Who: WhoCalling, Fields: []logrec.Field{logrec.Node(spec.Node.ID)},
				Msg: fmt.Sprintf("Calling %s", spec.Node.Name)}, err)
		}
		return fmt.Errorf("call %s: %w", spec.Node.Name, err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("call %s: %w", spec.Node.Name, err)
	}
	return nil
}

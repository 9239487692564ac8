// Command online is bench/online/run's helper: it starts calls and watches
// the spools until every packet is acknowledged. It uses the standard
// library only, so bench/online/run builds it as a module of its own.
//
//	online freeport
//	    prints a TCP port that is free on 127.0.0.1 right now.
//	online waitlisten -port N [-pid PID] [-timeout 30s]
//	    waits until something listens on 127.0.0.1:N (read from
//	    /proc/net/tcp, so nothing connects to the daemon); fails early
//	    when process PID (the daemon) has exited.
//	online calls -cmds FILE -expect FILE -logdir DIR [-poll 5ms]
//	    [-timeout 600s] [-daemon PID]
//	    starts every command of FILE (one a line, arguments separated by
//	    tabs) at once, polls the spools for the condition of FILE -expect,
//	    waits for every command to exit, and prints key=value lines (see
//	    report).
//	online b32 HEX
//	    prints the hex digest HEX as a packet name (base32, no padding).
package main

import (
	"bufio"
	"encoding/base32"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: online freeport | waitlisten -port N | calls -cmds FILE -expect FILE -logdir DIR | b32 HEX")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "freeport":
		err = freeport()
	case "waitlisten":
		fs := flag.NewFlagSet("waitlisten", flag.ExitOnError)
		port := fs.Int("port", 0, "TCP port on 127.0.0.1")
		timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
		pid := fs.Int("pid", 0, "give up when this process (the daemon) has exited")
		fs.Parse(os.Args[2:])
		err = waitListen(*port, *pid, *timeout)
	case "calls":
		fs := flag.NewFlagSet("calls", flag.ExitOnError)
		var o callsOpts
		fs.StringVar(&o.cmds, "cmds", "", "file: one command a line, arguments separated by tabs")
		fs.StringVar(&o.expect, "expect", "", "file: lines SENDER_TX_DIR <tab> RECEIVER_RX_DIR <tab> NAME")
		fs.StringVar(&o.logdir, "logdir", "", "directory for each command's output (call-N.out)")
		fs.DurationVar(&o.poll, "poll", 5*time.Millisecond, "polling interval")
		fs.DurationVar(&o.timeout, "timeout", 600*time.Second, "kill the commands after this long")
		fs.IntVar(&o.daemon, "daemon", 0, "pid of the daemon, whose CPU time is reported")
		fs.Parse(os.Args[2:])
		err = calls(o)
	case "b32":
		if len(os.Args) != 3 {
			err = fmt.Errorf("b32: want one hex digest")
			break
		}
		var b []byte
		b, err = hex.DecodeString(strings.TrimSpace(os.Args[2]))
		if err == nil {
			fmt.Println(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "online:", err)
		os.Exit(1)
	}
}

func freeport() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

// waitListen polls /proc/net/tcp for a socket in state LISTEN (0A) on
// 127.0.0.1:port or 0.0.0.0:port.
func waitListen(port, pid int, timeout time.Duration) error {
	want := []string{fmt.Sprintf("0100007F:%04X", port), fmt.Sprintf("00000000:%04X", port)}
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 3 && f[3] == "0A" && (f[1] == want[0] || f[1] == want[1]) {
				return nil
			}
		}
		if pid > 0 && !alive(pid) {
			return fmt.Errorf("waitlisten: process %d exited before listening on 127.0.0.1:%d", pid, port)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waitlisten: nothing listens on 127.0.0.1:%d after %v", port, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

type callsOpts struct {
	cmds, expect, logdir string
	poll, timeout        time.Duration
	daemon               int
}

// expectation is one packet: acknowledged when it is gone from the
// sender's tx directory and whole (its final name, not .part or .nock) in
// the receiver's rx directory.
type expectation struct{ src, dst, name string }

func readLines(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if sc.Text() == "" {
			continue
		}
		out = append(out, strings.Split(sc.Text(), "\t"))
	}
	return out, sc.Err()
}

// dirSet lists a directory's names (nil if it does not exist).
func dirSet(dir string) map[string]bool {
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// check returns the expectations not met yet, reading each directory once.
func check(pending []expectation) []expectation {
	cache := map[string]map[string]bool{}
	list := func(d string) map[string]bool {
		m, ok := cache[d]
		if !ok {
			m = dirSet(d)
			cache[d] = m
		}
		return m
	}
	var left []expectation
	for _, e := range pending {
		if list(e.src)[e.name] || !list(e.dst)[e.name] {
			left = append(left, e)
		}
	}
	return left
}

// procTicks is utime + stime of a process, in clock ticks.
func procTicks(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// report (printed by calls, one key=value a line):
//
//	ack_us     microseconds from the start until every packet was
//	           acknowledged (-1: not while the commands ran)
//	exit_us    until the last command exited
//	first_exit_us  until the first command exited
//	failed     commands that exited non-zero (or were killed)
//	timeout    1 if the commands were killed at -timeout
//	queued     packets still in a sender's tx at the end
//	missing    packets not whole in their receiver's rx at the end
//	total      packets expected
//	call_cpu_ms   user+system CPU of the commands
//	daemon_cpu_ms user+system CPU of -daemon during the run
func calls(o callsOpts) error {
	if o.cmds == "" || o.expect == "" || o.logdir == "" {
		return fmt.Errorf("calls: want -cmds, -expect and -logdir")
	}
	cmdLines, err := readLines(o.cmds)
	if err != nil {
		return err
	}
	expLines, err := readLines(o.expect)
	if err != nil {
		return err
	}
	var pending []expectation
	for i, l := range expLines {
		if len(l) != 3 {
			return fmt.Errorf("calls: %s line %d: want 3 tab-separated fields", o.expect, i+1)
		}
		pending = append(pending, expectation{l[0], l[1], l[2]})
	}
	all := pending
	if err := os.MkdirAll(o.logdir, 0o755); err != nil {
		return err
	}
	hz := int64(100) // USER_HZ on Linux
	var d0 int64
	if o.daemon > 0 {
		d0 = procTicks(o.daemon)
	}

	type result struct {
		idx int
		ok  bool
		cpu time.Duration
		at  time.Duration
	}
	done := make(chan result, len(cmdLines))
	var procs []*exec.Cmd
	t0 := time.Now()
	for i, argv := range cmdLines {
		out, err := os.Create(filepath.Join(o.logdir, fmt.Sprintf("call-%d.out", i+1)))
		if err != nil {
			return err
		}
		c := exec.Command(argv[0], argv[1:]...)
		c.Stdout, c.Stderr = out, out
		if err := c.Start(); err != nil {
			out.Close()
			for _, p := range procs {
				p.Process.Kill()
			}
			return fmt.Errorf("calls: starting %v: %w", argv, err)
		}
		procs = append(procs, c)
		go func(i int, c *exec.Cmd, out *os.File) {
			err := c.Wait()
			at := time.Since(t0)
			out.Close()
			var cpu time.Duration
			if ps := c.ProcessState; ps != nil {
				cpu = ps.UserTime() + ps.SystemTime()
			}
			done <- result{i, err == nil, cpu, at}
		}(i, c, out)
	}

	ack := time.Duration(-1)
	var firstExit, lastExit, cpu time.Duration
	failed, timedOut, running := 0, 0, len(procs)
	deadline := time.After(o.timeout)
	tick := time.NewTicker(o.poll)
	defer tick.Stop()
	for running > 0 {
		select {
		case r := <-done:
			running--
			if !r.ok {
				failed++
			}
			cpu += r.cpu
			if firstExit == 0 {
				firstExit = r.at
			}
			lastExit = r.at
		case <-tick.C:
			if ack < 0 {
				pending = check(pending)
				if len(pending) == 0 {
					ack = time.Since(t0)
				}
			}
		case <-deadline:
			timedOut = 1
			for _, p := range procs {
				p.Process.Signal(syscall.SIGKILL)
			}
			deadline = nil
		}
	}
	if ack < 0 && timedOut == 0 {
		// Met between the last poll and the last exit: count it at the exit.
		if pending = check(pending); len(pending) == 0 {
			ack = lastExit
		}
	}
	var dcpu int64
	if o.daemon > 0 {
		dcpu = procTicks(o.daemon) - d0
	}
	queued, missing := 0, 0
	srcs, dsts := map[string]map[string]bool{}, map[string]map[string]bool{}
	for _, e := range all {
		if _, ok := srcs[e.src]; !ok {
			srcs[e.src] = dirSet(e.src)
		}
		if _, ok := dsts[e.dst]; !ok {
			dsts[e.dst] = dirSet(e.dst)
		}
		if srcs[e.src][e.name] {
			queued++
		}
		if !dsts[e.dst][e.name] {
			missing++
		}
	}
	us := func(d time.Duration) int64 {
		if d < 0 {
			return -1
		}
		return d.Microseconds()
	}
	fmt.Printf("ack_us=%d\nexit_us=%d\nfirst_exit_us=%d\nfailed=%d\ntimeout=%d\nqueued=%d\nmissing=%d\ntotal=%d\ncall_cpu_ms=%d\ndaemon_cpu_ms=%d\n",
		us(ack), us(lastExit), us(firstExit), failed, timedOut, queued, missing, len(all), cpu.Milliseconds(), dcpu*1000/hz)
	return nil
}

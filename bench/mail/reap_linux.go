package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>.
const prSetChildSubreaper = 36

// reap runs args as a child subreaper: processes that args' command leaves
// behind (Exim's detached delivery processes) are re-parented here instead
// of to PID 1, and reap returns only when every one of them has exited. Its
// exit status is the command's. The CPU time of all of them then counts in
// the caller's children's times (getrusage RUSAGE_CHILDREN).
func reap(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("reap: no command")
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		return fmt.Errorf("reap: prctl(PR_SET_CHILD_SUBREAPER): %v", e)
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return err
	}
	pid, err := syscall.ForkExec(path, args, &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}})
	if err != nil {
		return err
	}
	code := -1
	for {
		var ws syscall.WaitStatus
		p, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil { // ECHILD: nothing left
			break
		}
		if p == pid {
			switch {
			case ws.Exited():
				code = ws.ExitStatus()
			case ws.Signaled():
				code = 128 + int(ws.Signal())
			}
		}
	}
	os.Exit(code)
	return nil
}

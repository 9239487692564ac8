//go:build !linux

package main

import (
	"os"
	"os/exec"
)

// reap runs args and waits for it; only Linux has child subreapers, so
// processes the command detaches are not waited for here.
func reap(args []string) error {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		return err
	}
	os.Exit(0)
	return nil
}

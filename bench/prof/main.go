// Command prof is ferry with CPU profiling, for bench/run only: it runs the
// same commands as cmd/ferry and, when $FERRY_CPUPROFILE is set, writes a
// pprof CPU profile of the command to that path ("%p" in it becomes the
// process id, so that one-process-per-message loops keep every profile).
// The profile starts in main, so it misses the Go runtime's start-up and
// package initialisation; bench/run measures those by timing whole
// processes.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"

	"ferry/internal/cli"
)

func main() {
	path := os.Getenv("FERRY_CPUPROFILE")
	if path == "" {
		os.Exit(cli.Main(cli.OSEnv(), os.Args))
	}
	path = strings.ReplaceAll(path, "%p", strconv.Itoa(os.Getpid()))
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferry-prof: %v\n", err)
		os.Exit(1)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "ferry-prof: %v\n", err)
		os.Exit(1)
	}
	code := cli.Main(cli.OSEnv(), os.Args)
	pprof.StopCPUProfile()
	f.Close()
	os.Exit(code)
}

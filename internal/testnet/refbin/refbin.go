// Package refbin finds the reference programs interop tests run against: the
// real nncp-* 8.8.2 binaries and Exim 4.96. With FERRY_INTEROP=1 (set by
// .ci/run) a missing program fails the test; otherwise the test is skipped
// with a hint on how to install it.
package refbin

import (
	"os"
	"os/exec"
	"testing"
)

// Required reports whether interop tests must run (FERRY_INTEROP=1).
func Required() bool { return os.Getenv("FERRY_INTEROP") == "1" }

var hints = map[string]string{
	"exim4": "apt-get install exim4-daemon-light",
	"swaks": "apt-get install swaks",
	"zstd":  "apt-get install zstd",
}

// Path returns the absolute path of the reference program name (for
// example "nncp-toss" or "exim4"), or skips (or fails, under
// FERRY_INTEROP=1) the test when it is not installed.
func Path(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/bin", "/usr/sbin"} {
		if fi, err := os.Stat(dir + "/" + name); err == nil && !fi.IsDir() {
			return dir + "/" + name
		}
	}
	hint, ok := hints[name]
	if !ok {
		hint = "apt-get install nncp"
	}
	if Required() {
		t.Fatalf("%s not found and FERRY_INTEROP=1: %s", name, hint)
	}
	t.Skipf("%s not found; interop test skipped (to run it: %s)", name, hint)
	return ""
}

// Skip skips the test for the reason given, except under FERRY_INTEROP=1,
// where no test may pass by skipping: there it fails the test, so that CI
// notices what it did not run (a missing tool, a missing privilege).
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf(format+" (FERRY_INTEROP=1: a test may not skip)", args...)
	}
	t.Skipf(format, args...)
}

// NNCP returns the path of the real nncp-NAME binary (name without the
// "nncp-" prefix, e.g. NNCP(t, "toss")).
func NNCP(t testing.TB, name string) string { return Path(t, "nncp-"+name) }

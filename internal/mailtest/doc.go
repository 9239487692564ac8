// Package mailtest holds ferry's end-to-end mail tests: a real Exim 4.96
// and the real NNCP 8.8.2 on both sides of ferry, real TCP on 127.0.0.1,
// real Maildirs. It has no code of its own: the tests are in *_test.go,
// and testdata/ holds the Exim configurations that docs/exim.md quotes
// (a test checks that the document shows them verbatim).
//
// When the tests run as root, every ferry, nncp-* and Exim process runs as
// an unprivileged user (nncp if it exists, else nobody) that owns the
// test's directories: Exim run by root with -C refuses a config root does
// not own, and delivers nothing as root.
package mailtest

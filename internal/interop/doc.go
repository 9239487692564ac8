// Package interop holds the tests that run ferry against the real NNCP
// 8.8.2 binaries in both directions (packets, relays, xfer). It has no
// code of its own.
package interop

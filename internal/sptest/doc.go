// Package sptest holds the end-to-end tests of the online protocol: ferry
// call and ferry daemon against each other and against the real
// nncp-call and nncp-daemon 8.8.2, over TCP on 127.0.0.1 and through
// |command addresses.
package sptest

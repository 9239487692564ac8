// Command ferry is a store-and-forward node for mail and files, compatible
// with NNCP 8.8.2. One binary: "ferry NAME ..." runs a command, and so do
// symlinks named nncp-NAME, sendmail and rmail.
package main

import (
	"os"

	"ferry/internal/cli"
)

func main() {
	os.Exit(cli.Main(cli.OSEnv(), os.Args))
}

package cli

import (
	"os"

	"ferry/internal/demo"
)

func init() {
	register("demo", &command{summary: "build a small network in a temporary directory and carry real packets across it", run: runDemo})
}

func runDemo(x *ctx, args []string) error {
	fs := x.flags("[-dir DIR] [-keep]")
	dir := fs.String("dir", "", "Build the network in DIR (kept afterwards)")
	keep := fs.Bool("keep", false, "Keep the temporary directory")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return demo.Run(demo.Options{Ferry: exe, Dir: *dir, Keep: *keep, Out: x.Stdout})
}

package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"ferry/internal/config"
	"ferry/internal/spool"
	"ferry/internal/tempfail"
	"ferry/internal/tx"
)

// hints returns what to tell the user to do about err, which command name
// returned; spoolDir is the spool of the config loaded ("" if none). Each
// hint matches the error: the config hint only for a missing config, not
// for every missing path.
func hints(name, spoolDir string, err error) []string {
	var h []string
	var pe *fs.PathError
	var ce *config.Error
	isCfg := errors.As(err, &ce)
	switch {
	case errors.Is(err, tx.ErrNoSelf):
		h = append(h, "this config has no private keys; make one with \"ferry cfgnew > node.hjson\"")
	case errors.Is(err, config.ErrUnknownNode):
		h = append(h, "neighbours are the keys of the config's neigh section; add one with its id, exchpub and signpub")
	case errors.Is(err, spool.ErrLocked):
		h = append(h, "another ferry or nncp process works on this spool; if none runs, \"ferry rm -lock\" removes stale locks")
	case errors.Is(err, fs.ErrPermission) && errors.As(err, &pe):
		h = append(h, permissionHint(pe.Path, spoolDir))
		if tempfail.Is(err) {
			h = append(h, "ferry exits 75 (EX_TEMPFAIL) so that an MTA retries later")
		}
	case errors.Is(err, errNoCallCommand):
		h = append(h, "give -call-cmd a program that takes nncp-call's arguments, e.g. -call-cmd /usr/bin/nncp-call")
	case isCfg && ce.Field == "" && errors.As(err, &pe) && pe.Path == ce.Path && errors.Is(err, fs.ErrNotExist):
		h = append(h, "point -cfg or $NNCPCFG at your config, or create one with \"ferry cfgnew\"")
	case isCfg && isDir(ce.Path) && !isDir(filepath.Join(ce.Path, "neigh")):
		h = append(h, fmt.Sprintf("%s is a directory: ferry reads a directory as NNCP's configuration directory layout (nncp-cfgdir); point -cfg or $NNCPCFG at the .hjson file", ce.Path))
	case !isCfg && errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist):
		switch name {
		case "xfer":
			h = append(h, fmt.Sprintf("the xfer directory %s does not exist: mount the stick or create the directory (-mkdir makes only the node directories inside it)", pe.Path))
		case "file":
			h = append(h, "give the path of an existing file or directory to send, or - to send stdin")
		}
	}
	return h
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// permissionHint names the owner of path, or of the nearest directory
// above it that exists: a spool (or its tmp/) made by a command once run
// as root is root's, and this user may not write it.
func permissionHint(path, spoolDir string) string {
	me := userName(os.Geteuid())
	p := path
	for {
		if fi, err := os.Stat(p); err == nil {
			st, ok := fi.Sys().(*syscall.Stat_t)
			if !ok {
				break
			}
			owner := userName(int(st.Uid))
			if int(st.Uid) == os.Geteuid() {
				return fmt.Sprintf("%s belongs to %s (this user) but its mode %v keeps it out: fix the mode with chmod", p, owner, fi.Mode().Perm())
			}
			if spoolDir != "" && (p == spoolDir || strings.HasPrefix(p, spoolDir+"/")) {
				return fmt.Sprintf("%s belongs to %s, and ferry runs as %s (was a command once run as %s?): run ferry as %s, or give the spool back with chown -R %s %s", p, owner, me, owner, owner, me, spoolDir)
			}
			return fmt.Sprintf("%s belongs to %s, and ferry runs as %s", p, owner, me)
		}
		if p == filepath.Dir(p) {
			break
		}
		p = filepath.Dir(p)
	}
	return fmt.Sprintf("ferry runs as %s, who may not use %s", me, path)
}

// userName is the login name of uid, or "uid N" when it has none.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(uid)
}

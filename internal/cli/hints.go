package cli

import (
	"errors"
	"io/fs"

	"ferry/internal/config"
	"ferry/internal/spool"
	"ferry/internal/tempfail"
	"ferry/internal/tx"
)

// hints returns what to tell the user to do about err.
func hints(err error) []string {
	var h []string
	var pe *fs.PathError
	switch {
	case errors.Is(err, tx.ErrNoSelf):
		h = append(h, "this config has no private keys; make one with \"ferry cfgnew > node.hjson\"")
	case errors.Is(err, config.ErrUnknownNode):
		h = append(h, "neighbours are the keys of the config's neigh section; add one with its id, exchpub and signpub")
	case errors.Is(err, spool.ErrLocked):
		h = append(h, "another ferry or nncp process works on this spool; if none runs, \"ferry rm -lock\" removes stale locks")
	case tempfail.Is(err) && errors.Is(err, fs.ErrPermission):
		h = append(h, "this user may not write the spool (a command once run as root?): give it back to its owner with chown -R; ferry exits 75 so that an MTA retries later")
	case errors.Is(err, errNoCallCommand):
		h = append(h, "give -call-cmd a program that takes nncp-call's arguments, e.g. -call-cmd /usr/bin/nncp-call")
	case errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist) && pe.Op == "stat":
		h = append(h, "point -cfg or $NNCPCFG at your config, or create one with \"ferry cfgnew\"")
	}
	return h
}

package cli

import (
	"context"
	"net"
	"os"
	"os/signal"
	"syscall"

	"ferry/internal/sp"
	"ferry/internal/spool"
)

func init() {
	register("daemon", &command{summary: "answer calls over TCP (sync protocol)", run: runDaemon, nncp: true})
}

func runDaemon(x *ctx, args []string) error {
	fs := x.flags("[options]")
	bind := fs.String("bind", "[::]:5400", "Address to bind to")
	maxConn := fs.Int("maxconn", 128, "Maximal number of simultaneous connections")
	ucspi := fs.Bool("ucspi", false, "Is it started as UCSPI-TCP server")
	inetd := fs.Bool("inetd", false, "Obsolete, use -ucspi")
	niceS := fs.String("nice", "MAX", "Minimal required niceness")
	nock := fs.Bool("nock", false, "Do no checksum checking")
	fs.Bool("mcd-once", false, "Send MCDs once and quit (not supported: ignored)")
	ygg := fs.String("yggdrasil", "", "Start Yggdrasil listener (not supported)")
	var at autoTossOpts
	at.register(fs)
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitCode(2, nil)
	}
	if *ygg != "" {
		return usageErr("-yggdrasil is not supported by ferry")
	}
	nice, err := parseNice("nice", *niceS)
	if err != nil {
		return usageErr("%v", err)
	}
	st := x.statusLine()
	if err := x.setup(); err != nil {
		return err
	}
	self, err := x.self()
	if err != nil {
		return err
	}
	dl, err := x.deadlineEnv()
	if err != nil {
		return err
	}
	srv := &sp.Server{
		Options: sp.Options{Self: self, Store: spool.Online{S: x.spool}, Log: x.log.l, Nice: nice, NoCK: *nock, Deadline: dl,
			FirstDeadline: x.firstDeadline()},
		Peers: x.peersFunc(), MaxConn: *maxConn,
	}
	at.prepare(x)
	var stopProgress func()
	srv.Progress, stopProgress = x.startCallProgress(st)
	defer stopProgress()
	if loop := x.startTossLoop(at); loop != nil {
		defer loop.close(true)
		srv.OnEvent = loop.onEvent
		srv.OnSession = func(r *sp.Result) { loop.now(r.Peer.ID) }
	}
	c, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *ucspi || *inetd {
		remote := x.Getenv("TCPREMOTEIP")
		if p := x.Getenv("TCPREMOTEPORT"); remote != "" && p != "" {
			remote = net.JoinHostPort(remote, p)
		}
		if remote == "" {
			remote = "UCSPI"
		}
		conn := newUCSPIConn(0, 1)
		_, err := srv.ServeConn(c, conn, remote)
		if err != nil {
			return exitCode(1, nil)
		}
		return nil
	}
	ln, err := net.Listen("tcp", *bind)
	if err != nil {
		return err
	}
	x.log.debugf("listening on %s", ln.Addr())
	return srv.Serve(c, ln)
}

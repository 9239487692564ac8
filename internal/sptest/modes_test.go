package sptest

import (
	"bytes"
	"fmt"
	gonet "net"
	"os"
	"sort"
	"strings"
	"testing"

	"ferry/internal/node"
	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
)

func other(i testnet.Impl) testnet.Impl {
	if i == testnet.Ferry {
		return testnet.NNCP
	}
	return testnet.Ferry
}

// TestPipeAddrUCSPI: the address "|command" runs the other side's
// daemon -ucspi as a child, both ways.
func TestPipeAddrUCSPI(t *testing.T) {
	for _, caller := range []testnet.Impl{testnet.Ferry, testnet.NNCP} {
		t.Run(string(caller)+"-call", func(t *testing.T) {
			t.Parallel()
			net := testnet.New(t, "a", "b")
			a, b := net.Nodes["a"], net.Nodes["b"]
			queueFile(t, a, b, testnet.NNCP, "x", 70000, 1)
			queueFile(t, b, a, testnet.NNCP, "y", 300, 2)
			sentAB, sentBA := snapshot(t, a.TxPackets(t, b)), snapshot(t, b.TxPackets(t, a))
			bin := testnet.FerryBin(t) + " daemon"
			if caller == testnet.Ferry {
				bin = refbin.NNCP(t, "daemon")
			}
			cmd := fmt.Sprintf("|%s -ucspi -quiet -cfg %s", bin, b.CfgPath)
			r := a.Run(t, caller, nil, "call", "-noprogress", "-onlinedeadline", "1", "b", cmd)
			if r.Code != 0 {
				t.Fatalf("call: exit %d\n%s\n%s", r.Code, r.Stderr, dumpLogs(t, a, b))
			}
			checkArrived(t, sentAB, b.RxPackets(t, a))
			checkArrived(t, sentBA, a.RxPackets(t, b))
		})
	}
}

// TestListAndPkts: -list fetches nothing and names every offer; -pkts
// fetches only the named packets.
func TestListAndPkts(t *testing.T) {
	for _, caller := range []testnet.Impl{testnet.Ferry, testnet.NNCP} {
		t.Run(string(caller)+"-call", func(t *testing.T) {
			t.Parallel()
			net := testnet.New(t, "a", "b")
			a, b := net.Nodes["a"], net.Nodes["b"]
			for i := range 3 {
				queueFile(t, b, a, testnet.NNCP, fmt.Sprint("p", i), 1000+i, uint64(i))
			}
			all := snapshot(t, b.TxPackets(t, a))
			names := keys(all)
			addr, _ := daemon(t, b, other(caller))
			r := a.Run(t, caller, nil, "call", "-noprogress", "-list", "-onlinedeadline", "1", "b", addr)
			if r.Code != 0 {
				t.Fatalf("list: exit %d\n%s", r.Code, r.Stderr)
			}
			for _, n := range names {
				if !strings.Contains(r.Stderr, "Packet "+n) {
					t.Fatalf("-list does not name %s:\n%s", n, r.Stderr)
				}
			}
			if got := a.RxPackets(t, b); len(got) != 0 {
				t.Fatalf("-list received %d packets", len(got))
			}
			var infos []string
			for _, rec := range logRecs(t, a, "sp-info") {
				infos = append(infos, rec["Pkt"])
			}
			sort.Strings(infos)
			if strings.Join(infos, ",") != strings.Join(names, ",") {
				t.Fatalf("sp-info records %v, want %v", infos, names)
			}
			settled(t, b, 1)
			want := map[string][]byte{names[0]: all[names[0]], names[2]: all[names[2]]}
			r = a.Run(t, caller, nil, "call", "-noprogress", "-pkts", names[0]+","+names[2], "-onlinedeadline", "1", "b", addr)
			if r.Code != 0 {
				t.Fatalf("-pkts: exit %d\n%s\n%s", r.Code, r.Stderr, dumpLogs(t, a, b))
			}
			checkArrived(t, want, a.RxPackets(t, b))
			if left := b.TxPackets(t, a); len(left) != 1 || !strings.HasSuffix(left[0], names[1]) {
				t.Fatalf("b has left %v, want only %s", left, names[1])
			}
		})
	}
}

// TestRxTxOnly: -rx takes without giving, -tx gives without taking.
func TestRxTxOnly(t *testing.T) {
	net := testnet.New(t, "a", "b")
	a, b := net.Nodes["a"], net.Nodes["b"]
	queueFile(t, a, b, testnet.NNCP, "x", 500, 1)
	queueFile(t, b, a, testnet.NNCP, "y", 600, 2)
	sentAB, sentBA := snapshot(t, a.TxPackets(t, b)), snapshot(t, b.TxPackets(t, a))
	addr, _ := daemon(t, b, testnet.NNCP)
	r := a.Run(t, testnet.Ferry, nil, "call", "-noprogress", "-rx", "-onlinedeadline", "1", "b", addr)
	if r.Code != 0 {
		t.Fatalf("-rx: exit %d\n%s", r.Code, r.Stderr)
	}
	checkArrived(t, sentBA, a.RxPackets(t, b))
	if len(b.RxPackets(t, a)) != 0 || len(a.TxPackets(t, b)) != 1 {
		t.Fatal("-rx sent something")
	}
	// -tx: a's packet leaves; nothing new is taken (b queues another).
	queueFile(t, b, a, testnet.NNCP, "z", 700, 3)
	settled(t, b, 1)
	r = a.Run(t, testnet.Ferry, nil, "call", "-noprogress", "-tx", "-onlinedeadline", "1", "b", addr)
	if r.Code != 0 {
		t.Fatalf("-tx: exit %d\n%s", r.Code, r.Stderr)
	}
	checkArrived(t, sentAB, b.RxPackets(t, a))
	if len(a.RxPackets(t, b)) != 1 || len(b.TxPackets(t, a)) != 1 {
		t.Fatal("-tx received something")
	}
}

// TestUnknownPeerRefused: a daemon refuses a caller whose noise key is
// no neighbour's, and logs it; the caller fails.
func TestUnknownPeerRefused(t *testing.T) {
	for _, d := range []testnet.Impl{testnet.Ferry, testnet.NNCP} {
		t.Run(string(d)+"-daemon", func(t *testing.T) {
			t.Parallel()
			net := testnet.New(t, "a", "b")
			a, b := net.Nodes["a"], net.Nodes["b"]
			queueFile(t, a, b, testnet.NNCP, "x", 500, 1)
			k, err := node.Generate()
			if err != nil {
				t.Fatal(err)
			}
			// b knows a by another noise key: a's real one is unknown.
			b.Cfg.Neigh["a"].NoisePub = k.NoisePub
			net.Write(t)
			addr, _ := daemon(t, b, d)
			r := a.Run(t, other(d), nil, "call", "-noprogress", "-onlinedeadline", "1", "b", addr)
			if r.Code == 0 {
				t.Fatalf("call by an unknown key succeeded\n%s", r.Stderr)
			}
			if len(b.RxPackets(t, a)) != 0 || len(a.TxPackets(t, b)) != 1 {
				t.Fatal("packets moved")
			}
			recs := waitLog(t, b, "sp-startR-unknown")
			if len(recs) != 1 || recs[0]["Peer"] != node.B32.EncodeToString(a.Keys.NoisePub[:]) {
				t.Fatalf("daemon log: %v\n%s\ncaller: %s", recs, dumpLogs(t, b), r.Stderr)
			}
		})
	}
}

// TestCallUCSPI: call -ucspi talks over fds 6 and 7, as under
// tcpclient; here both are a TCP connection to the other
// implementation's daemon.
func TestCallUCSPI(t *testing.T) {
	for _, caller := range []testnet.Impl{testnet.Ferry, testnet.NNCP} {
		t.Run(string(caller)+"-call", func(t *testing.T) {
			t.Parallel()
			tn := testnet.New(t, "a", "b")
			a, b := tn.Nodes["a"], tn.Nodes["b"]
			queueFile(t, a, b, testnet.NNCP, "x", 90000, 1)
			queueFile(t, b, a, testnet.NNCP, "y", 900, 2)
			sentAB, sentBA := snapshot(t, a.TxPackets(t, b)), snapshot(t, b.TxPackets(t, a))
			// nncp-call -ucspi can not interrupt its blocking read of fd 6:
			// the daemon ends the session at its own deadline.
			b.Cfg.Neigh["a"].OnlineDeadline = 1
			tn.Write(t)
			addr, _ := daemon(t, b, other(caller))
			c, err := gonet.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			f, err := c.(*gonet.TCPConn).File()
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cmd := a.Cmd(t, caller, "call", "-noprogress", "-ucspi", "-onlinedeadline", "1", "b")
			cmd.ExtraFiles = []*os.File{nil, nil, nil, f, f}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			f.Close() // the caller holds the only copy: its exit ends the session
			if err := cmd.Wait(); err != nil {
				t.Fatalf("call -ucspi: %v\n%s\n%s", err, out.String(), dumpLogs(t, b))
			}
			checkArrived(t, sentAB, b.RxPackets(t, a))
			checkArrived(t, sentBA, a.RxPackets(t, b))
		})
	}
}

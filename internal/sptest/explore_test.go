package sptest

import (
	"fmt"
	"os"
	"testing"

	"ferry/internal/node"
	"ferry/internal/testnet"
)

func TestExploreReal(t *testing.T) {
	if os.Getenv("EXPLORE") == "" {
		t.Skip()
	}
	net := testnet.New(t, "a", "b")
	a, b := net.Nodes["a"], net.Nodes["b"]
	queueFile(t, b, a, testnet.NNCP, "x", 1000, 1)
	queueFile(t, b, a, testnet.NNCP, "y", 2000, 2)
	addr, _ := daemon(t, b, testnet.NNCP)
	r := a.Run(t, testnet.NNCP, nil, "call", "-list", "-onlinedeadline", "1", "b", addr)
	fmt.Printf("LIST exit %d\nOUT:%s\nERR:%s\n", r.Code, r.Stdout, r.Stderr)
	// unknown peer: a with a new noise key
	k, _ := node.Generate()
	a.Cfg.Self.NoisePub = k.NoisePub
	a.Cfg.Self.NoisePrv = k.NoisePrv
	net.Write(t)
	r = a.Run(t, testnet.NNCP, nil, "call", "-onlinedeadline", "1", "b", addr)
	fmt.Printf("UNKNOWN exit %d\nOUT:%s\nERR:%s\n", r.Code, r.Stdout, r.Stderr)
	fmt.Println(dumpLogs(t, a, b))
}

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/config"
	"ferry/internal/testnet"
)

// ferry toss runs its own rsmtp in-process; when that fails, the packet
// stays in rx/ exactly as with a failing command, and a later toss
// delivers it.
func TestInProcessRsmtp(t *testing.T) {
	net := testnet.New(t, "sat", "hub")
	sat, hub := net.Nodes["sat"], net.Nodes["hub"]
	sat.Cfg.Mail = &config.Mail{Raw: map[string]any{"domain": "sat.example", "smarthost": "hub"}}
	hub.Cfg.Mail = &config.Mail{Raw: map[string]any{"domain": "hub.example",
		"users": map[string]any{"alice": "maildir:" + filepath.Join(hub.Dir, "Maildir")}}}
	hub.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{testnet.FerryBin(t), "rsmtp", "-cfg", hub.CfgPath}
	net.Write(t)
	cmd := sat.Cmd(t, testnet.Ferry, "sendmail", "-oi", "-f", "root@sat.example", "alice@hub.example")
	cmd.Args = append(cmd.Args[:2], cmd.Args[4:]...) // sendmail takes -C, not -cfg
	cmd.Env = append(cmd.Env, "NNCPCFG="+sat.CfgPath)
	cmd.Stdin = strings.NewReader("Subject: hi\n\nhello\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	net.Carry(t, sat, testnet.Ferry, hub, testnet.Ferry)
	// Break the mail queue: its tmp/ is a file.
	q := filepath.Join(hub.Spool, "mail", "tmp")
	os.MkdirAll(filepath.Dir(q), 0o755)
	os.RemoveAll(q)
	os.WriteFile(q, nil, 0o644)
	r := hub.Run(t, testnet.Ferry, nil, "toss", "-noprogress")
	if r.Code == 0 || len(hub.RxPackets(t, sat)) != 1 {
		t.Fatalf("toss exit %d with %d packets left; stderr:\n%s", r.Code, len(hub.RxPackets(t, sat)), r.Stderr)
	}
	if !strings.Contains(r.Stderr, "rsmtp") {
		t.Errorf("the failure does not say what failed:\n%s", r.Stderr)
	}
	os.Remove(q)
	hub.Must(t, testnet.Ferry, nil, "toss", "-noprogress", "-quiet")
	ents, _ := os.ReadDir(filepath.Join(hub.Dir, "Maildir", "new"))
	if len(ents) != 1 {
		t.Fatalf("%d messages delivered", len(ents))
	}
}

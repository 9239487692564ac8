package cli

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corrupt flips a bit of the file at off.
func corrupt(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkSpool is hub's spool with whole packets only (in both queues of
// sat, and far's tx/), and .nock files added by the caller.
func checkSpool(t *testing.T) *vnode {
	v := vectorNode(t, "hub")
	for _, f := range [][2]string{
		{satID + "/rx/2SUDIMZ5O2BDRYV3N5T23Z5BCYTDD5ECM25GYEVVW2CJVCQSKVBA", "01-file-sat-to-hub.pkt"},
		{satID + "/rx/RQ52TR4JD3J27PWBPMYMKIFZSJC6HSEYWMXQH4LZIAMZQN3G6TJA", "02-freq-sat-to-hub.pkt"},
		{satID + "/rx/HFBYWD44QQFGNHOC3LFTMLSASOJNOVLEUQF5ROI3A45AXM6AVPDA", "chunked/chunk3.pkt"},
		{satID + "/tx/AHIKFS4OKLBPV2XIA2UNQKE2TTCMAATROGYAIPBJBK44DTTNR5PQ", "08-ack-hub-to-sat.pkt"},
		{satID + "/tx/OTM4WHTZ44WBQRCEAUHFNW7225Z5PF74PHZW35S6ODKENJIV5D5Q", "09-file-hub-to-sat-freq-reply.pkt"},
		{satID + "/tx/junk.nock", "=junk"},
		{farID + "/tx/V5ZUN74US6ZF5BASCPZPO5USKFLSZG6CO53FB6EVNUEPJJRTU6TA", "07-file-sat-to-far-inner.pkt"},
	} {
		v.put(t, f[0], f[1])
	}
	return v
}

// checkBoth runs nncp-check and ferry check with args on spools that
// prep makes, and compares exit codes, log records and what is left.
func checkBoth(t *testing.T, prep func(*vnode), args ...string) (ferry, nncp runResult, fv, nv *vnode) {
	t.Helper()
	nv, fv = checkSpool(t), checkSpool(t)
	prep(nv)
	prep(fv)
	nncp = runNNCP(t, nil, "check", append([]string{"-cfg", nv.cfg, "-noprogress"}, args...)...)
	ferry = runFerry(t, nil, "check", append([]string{"-cfg", fv.cfg, "-noprogress"}, args...)...)
	if ferry.code != nncp.code {
		t.Errorf("check %v: exit %d, want %d\nferry: %s\nnncp: %s", args, ferry.code, nncp.code, ferry.stderr, nncp.stderr)
	}
	// hdr/ files may differ: ferry checks (and reads the headers of) tx/
	// packets that nncp-check skips after a bad rx/ packet; nncp-check
	// makes tmp/ only when it does not stop early.
	noHdr := func(v *vnode) string {
		var out []string
		for _, f := range tree(t, v.spool) {
			if !strings.Contains(f, "/hdr/") && f != "tmp/" {
				out = append(out, f)
			}
		}
		return strings.Join(out, "\n")
	}
	if g, w := noHdr(fv), noHdr(nv); g != w {
		t.Errorf("check %v left\n%s\nwant\n%s", args, g, w)
	}
	return ferry, nncp, fv, nv
}

func TestCheckGood(t *testing.T) {
	f, n, fv, nv := checkBoth(t, func(*vnode) {})
	if f.stderr != "" || n.stderr != "" {
		t.Errorf("stderr: ferry %q, nncp %q", f.stderr, n.stderr)
	}
	if g, w := recordSet(t, fv), recordSet(t, nv); g != w {
		t.Errorf("logged %q, want %q", g, w)
	}
}

// TestCheckBad: a packet whose bytes no longer hash to its name is
// reported (Who: checking, Err: bad), left in place, and the exit code
// is 1. The packet's header is intact, so that nncp-check sees it too.
func TestCheckBad(t *testing.T) {
	for _, rel := range []string{
		satID + "/rx/RQ52TR4JD3J27PWBPMYMKIFZSJC6HSEYWMXQH4LZIAMZQN3G6TJA",
		farID + "/tx/V5ZUN74US6ZF5BASCPZPO5USKFLSZG6CO53FB6EVNUEPJJRTU6TA",
	} {
		f, _, fv, nv := checkBoth(t, func(v *vnode) { corrupt(t, filepath.Join(v.spool, rel), 300) })
		if g, w := recordSet(t, fv), recordSet(t, nv); g != w {
			t.Errorf("logged\n%s\nwant\n%s", g, w)
		}
		if !strings.Contains(f.stderr, "Checking: "+rel+": bad") {
			t.Errorf("stderr %q does not name %s", f.stderr, rel)
		}
		for _, args := range [][]string{{"-node", "far"}, {"-node", "sat"}} {
			want := 0
			if strings.HasPrefix(rel, map[string]string{"far": farID, "sat": satID}[args[1]]) {
				want = 1
			}
			if r := runFerry(t, nil, "check", append([]string{"-cfg", fv.cfg, "-noprogress"}, args...)...); r.code != want {
				t.Errorf("check %v with %s bad: exit %d, want %d", args, rel, r.code, want)
			}
		}
	}
	// ferry also reports a file named like a packet that is no packet at
	// all (nncp-check skips it), and a bad tx/ packet of a node whose rx/
	// has one (nncp-check skips that tx/).
	v := checkSpool(t)
	v.put(t, satID+"/rx/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "=not a packet")
	corrupt(t, filepath.Join(v.spool, satID, "tx", "AHIKFS4OKLBPV2XIA2UNQKE2TTCMAATROGYAIPBJBK44DTTNR5PQ"), 200)
	r := runFerry(t, nil, "check", "-cfg", v.cfg, "-noprogress")
	if r.code != 1 || strings.Count(r.stderr, ": bad") != 2 {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(v.spool, satID, "rx", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")); err != nil {
		t.Errorf("bad packet removed: %v", err)
	}
}

const (
	execNoCK = satID + "/rx/7IE5HKF5DFZ43TBGL6O34P6KELFYKC3XKD5YBRK4QSZ3CXK5AZUQ.nock"
	fatNoCK  = satID + "/rx/YQSWPONI6FYSIB32LEWHD5ZNZLNSOJRP23AHW72STOFVTH67SVEA.nock"
	txNoCK   = satID + "/tx/ZPK6KQIYRNG3D2IH6NRAZW56Z3GMH6XYVLS3MTACWJD44OAQ535Q.nock"
)

// TestCheckNoCK: good rx/ .nock files become whole packets with hdr/
// files; whole packets and tx/ .nock files are not looked at.
func TestCheckNoCK(t *testing.T) {
	_, _, fv, _ := checkBoth(t, func(v *vnode) {
		v.put(t, execNoCK, "03-exec-rsmtp-sat-to-hub.pkt")
		v.put(t, fatNoCK, "05-execfat-sat-to-hub.pkt")
		v.put(t, txNoCK, "04-exec-args-sat-to-hub.pkt")
		corrupt(t, filepath.Join(v.spool, satID, "rx", "2SUDIMZ5O2BDRYV3N5T23Z5BCYTDD5ECM25GYEVVW2CJVCQSKVBA"), 300)
	}, "-nock")
	hdr := filepath.Join(fv.spool, satID, "rx", "hdr", "7IE5HKF5DFZ43TBGL6O34P6KELFYKC3XKD5YBRK4QSZ3CXK5AZUQ")
	if _, err := os.Stat(hdr); err != nil {
		t.Errorf("no hdr/ for the promoted packet: %v", err)
	}
}

// TestCheckNoCKBad: a bad .nock file is reported and kept, exit 1.
// (nncp-check stops at it; ferry goes on with the others.)
func TestCheckNoCKBad(t *testing.T) {
	f, _, _, _ := checkBoth(t, func(v *vnode) {
		v.put(t, execNoCK, "05-execfat-sat-to-hub.pkt") // the wrong packet under this name
	}, "-nock")
	if !strings.Contains(f.stderr, execNoCK) {
		t.Errorf("stderr %q does not name the .nock file", f.stderr)
	}
	v := checkSpool(t)
	v.put(t, execNoCK, "05-execfat-sat-to-hub.pkt")
	v.put(t, fatNoCK, "05-execfat-sat-to-hub.pkt")
	if r := runFerry(t, nil, "check", "-cfg", v.cfg, "-nock", "-quiet"); r.code != 1 {
		t.Errorf("exit %d", r.code)
	}
	got := strings.Join(tree(t, filepath.Join(v.spool, satID, "rx")), " ")
	for _, want := range []string{filepath.Base(execNoCK), strings.TrimSuffix(filepath.Base(fatNoCK), ".nock") + " "} {
		if !strings.Contains(got+" ", want) {
			t.Errorf("rx/ = %s; missing %s", got, want)
		}
	}
}

func TestCheckUnknownNode(t *testing.T) {
	v := checkSpool(t)
	want := runNNCP(t, nil, "check", "-cfg", v.cfg, "-node", "nobody")
	got := runFerry(t, nil, "check", "-cfg", v.cfg, "-node", "nobody")
	if got.code != want.code || got.code == 0 {
		t.Errorf("exit %d, want %d", got.code, want.code)
	}
}

// recordSet is a node's log with each record's fields sorted (ferry's
// logger writes Err before Msg, NNCP's right after When) and the spool
// path replaced.
func recordSet(t *testing.T, v *vnode) string {
	var out []string
	for _, rec := range strings.Split(relSpool(logRecords(t, v.log), v), "\n\n") {
		f := strings.Split(strings.TrimSpace(rec), "\n")
		sort.Strings(f)
		out = append(out, strings.Join(f, "\n"))
	}
	return strings.Join(out, "\n\n")
}

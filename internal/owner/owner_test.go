package owner

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"ferry/internal/testnet/refbin"
)

const nobody = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		refbin.Skip(t, "giving files away needs root (the tests run as root in CI)")
	}
}

func ownerOf(t *testing.T, p string) (int, int) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

func wantOwner(t *testing.T, p string, uid, gid int) {
	t.Helper()
	if u, g := ownerOf(t, p); u != uid || g != gid {
		t.Errorf("%s is owned by %d:%d, want %d:%d", p, u, g, uid, gid)
	}
}

// TestInheritsDirOwner: as root, everything made in a directory owned by
// nobody is nobody's, however deep, and whichever function made it.
func TestInheritsDirOwner(t *testing.T) {
	needRoot(t)
	top := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(top, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(top, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(top, "NODE", "tx", "hdr")
	if err := MkdirAll(deep, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(top, "NODE"), filepath.Join(top, "NODE", "tx"), deep} {
		wantOwner(t, p, nobody, nobody)
	}
	f, err := CreateTemp(deep, "x-*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	wantOwner(t, f.Name(), nobody, nobody)
	lock := filepath.Join(top, "NODE", "toss.lock")
	lf, err := OpenFile(lock, os.O_CREATE|os.O_WRONLY, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	lf.Close()
	wantOwner(t, lock, nobody, nobody)
	if err := WriteFile(filepath.Join(deep, "note"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantOwner(t, filepath.Join(deep, "note"), nobody, nobody)
	link := filepath.Join(top, "hub")
	if err := Symlink(filepath.Join(top, "NODE"), link); err != nil {
		t.Fatal(err)
	}
	wantOwner(t, link, nobody, nobody)
}

// TestRepairs: a lock file or a directory an older run as root left
// behind is given back when root opens or makes it again.
func TestRepairs(t *testing.T) {
	needRoot(t)
	top := t.TempDir()
	if err := os.Chown(top, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(top, "tmp")
	lock := filepath.Join(top, "rx.lock")
	os.Mkdir(tmp, 0o755)
	os.WriteFile(lock, nil, 0o644)
	wantOwner(t, tmp, 0, 0)
	if err := MkdirAll(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	wantOwner(t, tmp, nobody, nobody)
	f, err := OpenFile(lock, os.O_CREATE|os.O_WRONLY, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	wantOwner(t, lock, nobody, nobody)
}

// TestRootOwnedStaysRoot: in a directory root owns nothing changes.
func TestRootOwnedStaysRoot(t *testing.T) {
	needRoot(t)
	top := t.TempDir()
	if err := MkdirAll(filepath.Join(top, "a", "b"), 0o777); err != nil {
		t.Fatal(err)
	}
	wantOwner(t, filepath.Join(top, "a", "b"), 0, 0)
}

// TestNotRoot: without root the functions are os's (no chown tried).
func TestNotRoot(t *testing.T) {
	old := root
	root = func() bool { return false }
	defer func() { root = old }()
	top := t.TempDir()
	if os.Geteuid() == 0 {
		os.Chown(top, nobody, nobody)
	}
	u, _ := ownerOf(t, top)
	if err := MkdirAll(filepath.Join(top, "a"), 0o777); err != nil {
		t.Fatal(err)
	}
	f, err := CreateTemp(top, "x-*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if os.Geteuid() == 0 && u == nobody {
		wantOwner(t, filepath.Join(top, "a"), 0, 0)
		wantOwner(t, f.Name(), 0, 0)
	}
	// A file in the way is MkdirAll's error, as os.MkdirAll's.
	os.WriteFile(filepath.Join(top, "file"), nil, 0o644)
	root = old
	if err := MkdirAll(filepath.Join(top, "file", "sub"), 0o777); err == nil {
		t.Error("MkdirAll through a file succeeded")
	}
}

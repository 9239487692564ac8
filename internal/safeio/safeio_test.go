package safeio

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPlaceNoClobber(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "f.txt")
	for i, want := range []string{"f.txt", "f.txt.0", "f.txt.1"} {
		tmp := filepath.Join(dir, ".tmp")
		os.WriteFile(tmp, []byte{byte('a' + i)}, 0o644)
		got, err := PlaceNoClobber(tmp, dst)
		if err != nil || filepath.Base(got) != want {
			t.Fatalf("%d: %s %v, want %s", i, got, err, want)
		}
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Fatal("temporary file left")
		}
	}
	if b, _ := os.ReadFile(dst); string(b) != "a" {
		t.Fatal("the first file was overwritten")
	}
}

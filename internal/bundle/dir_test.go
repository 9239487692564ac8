package bundle

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// DirArchive lays a directory out as nncp-file does: the top directory,
// then the directories, then the regular files, modes 777 and 666, uid and
// gid 0, mtimes kept, a comment record on every entry, nothing else.
func TestDirArchive(t *testing.T) {
	root := filepath.Join(t.TempDir(), "top")
	os.MkdirAll(filepath.Join(root, "sub", "deeper"), 0o700)
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("alpha"), 0o600)
	os.WriteFile(filepath.Join(root, "sub", "b.txt"), []byte("beta!"), 0o644)
	os.Symlink("a.txt", filepath.Join(root, "link"))
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(filepath.Join(root, "a.txt"), mtime, mtime)

	r := DirArchive(root, "made by a test")
	defer r.Close()
	tr := tar.NewReader(r)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got = append(got, h.Name+" "+fs.FileMode(h.Mode).String()+" "+string(body))
		if h.Uid != 0 || h.Gid != 0 || h.Format != tar.FormatPAX || h.PAXRecords["comment"] != "made by a test" {
			t.Errorf("%s: uid %d gid %d format %v records %v", h.Name, h.Uid, h.Gid, h.Format, h.PAXRecords)
		}
		if h.Name == "top/a.txt" && !h.ModTime.Equal(mtime) {
			t.Errorf("a.txt mtime %v", h.ModTime)
		}
	}
	want := []string{"top -rwxrwxrwx ", "top/sub -rwxrwxrwx ", "top/sub/deeper -rwxrwxrwx ",
		"top/a.txt -rw-rw-rw- alpha", "top/sub/b.txt -rw-rw-rw- beta!"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("archive:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A failure while archiving is the reader's error.
	_, err := io.ReadAll(DirArchive(filepath.Join(root, "nosuch"), ""))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
}

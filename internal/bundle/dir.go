package bundle

import (
	"archive/tar"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// DirArchive streams a pax archive of the directory dir as nncp-file sends one:
// the directory's base name as the top entry, directories first (mode
// 777) then regular files (mode 666), uid/gid 0, modification times kept,
// everything else skipped, and a comment record on each entry. A failure
// while archiving (a file that shrank, one that cannot be read) is the
// error of Read; Close stops the archiving.
func DirArchive(dir, comment string) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeDir(pw, dir, comment)) }()
	return pr
}

func writeDir(w io.Writer, dir, comment string) error {
	base := filepath.Base(filepath.Clean(dir))
	parent := filepath.Dir(filepath.Clean(dir))
	var dirs, files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			dirs = append(dirs, p)
		case d.Type().IsRegular():
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	hdr := func(p string, fi fs.FileInfo) *tar.Header {
		rel, _ := filepath.Rel(parent, p)
		if rel == "." {
			rel = base
		}
		h := &tar.Header{
			Name:       filepath.ToSlash(rel),
			ModTime:    fi.ModTime(),
			Format:     tar.FormatPAX,
			PAXRecords: map[string]string{"comment": comment},
		}
		if fi.IsDir() {
			h.Typeflag, h.Mode = tar.TypeDir, 0o777
		} else {
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o666, fi.Size()
		}
		return h
	}
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr(d, fi)); err != nil {
			return err
		}
	}
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		if err := tw.WriteHeader(hdr(p, fi)); err != nil {
			f.Close()
			return err
		}
		n, err := io.Copy(tw, f)
		f.Close()
		if err != nil {
			return err
		}
		if n != fi.Size() {
			return &os.PathError{Op: "read", Path: p, Err: errShrunk(n, fi.Size())}
		}
	}
	return tw.Close()
}

type shrunkError struct{ got, want int64 }

func (e *shrunkError) Error() string {
	return "file changed while archiving: read " + strconv.FormatInt(e.got, 10) + " of " + strconv.FormatInt(e.want, 10) + " bytes"
}

func errShrunk(got, want int64) error { return &shrunkError{got, want} }

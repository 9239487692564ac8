// Package safeio owns placing finished files where users find them
// without ever overwriting one: the last step of tossing a file and of
// reassembling a chunked one.
package safeio

import (
	"errors"
	"fmt"
	"os"
	"strconv"
)

// PlaceNoClobber moves tmp to dst, or to dst.0, dst.1 ... when that name
// is taken (the counter nncp-toss and nncp-reass use), and returns the
// name used. A hard link makes the check and the move one step; on
// filesystems without hard links (vfat USB sticks) it falls back to a
// checked rename. tmp must be in dst's directory.
func PlaceNoClobber(tmp, dst string) (string, error) {
	for i := -1; i < 1_000_000; i++ {
		cand := dst
		if i >= 0 {
			cand = dst + "." + strconv.Itoa(i)
		}
		err := os.Link(tmp, cand)
		if err == nil {
			os.Remove(tmp)
			return cand, nil
		}
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if _, serr := os.Lstat(cand); serr == nil {
			continue
		}
		if err := os.Rename(tmp, cand); err != nil {
			return "", err
		}
		return cand, nil
	}
	return "", fmt.Errorf("%s: no free name", dst)
}

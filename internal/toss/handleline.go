package toss

import "ferry/internal/config"

// ConfigPart reports how many leading words of argv, a command line a
// tosser started for an exec packet from n, come from n's config: the
// length of the longest of n's exec handle lines that argv starts with
// (every word equal, the program's path included). The words after it are
// the packet's arguments, chosen by the neighbour. A tosser (ferry toss or
// nncp-toss) always starts a handle as its config line followed by the
// packet's arguments, so the config's part is always found; when two lines
// both fit ("rsmtp" and "rsmtp -odq"), the longer one is a command line
// the neighbour may run anyway. ok is false when no line fits.
func ConfigPart(n *config.Neighbour, argv []string) (words int, ok bool) {
	if n == nil {
		return 0, false
	}
	best := -1
	for _, line := range n.Exec {
		if len(line) == 0 || len(line) > len(argv) || len(line) <= best {
			continue
		}
		fits := true
		for i, w := range line {
			if argv[i] != w {
				fits = false
				break
			}
		}
		if fits {
			best = len(line)
		}
	}
	if best < 0 {
		return 0, false
	}
	return best, true
}

package config

import (
	"sort"
	"strconv"
	"strings"
)

// Unknown keys are an error: a typo such as "incomming" or "rotues" would
// otherwise load fine and only show at toss or delivery time. The keys a
// config may hold are dirSchema's (which the directory layout reads by too),
// plus allowedUnknown below; checkKeys walks the decoded tree before
// anything else is decoded, so that a misspelt required key is reported as
// the typo it is rather than as a missing key.

// allowedUnknown lists, per level of the schema, keys ferry does not use
// but accepts without complaint: keys added by NNCP releases after 8.8.2,
// and keys 8.8.2 reads that ferry ignores. Every key nncp-* 8.8.2 reads is
// one ferry reads too (TestKeysOfNNCPBinaries compares them), so the list
// is empty for now; add a key here with the release that added it.
var allowedUnknown = map[*schema]map[string]bool{}

// checkKeys reports the first unknown key of the tree v (in sorted order,
// depth first), as a field error naming its path and the nearest known key.
// Values of the wrong type are left to the decoder.
func checkKeys(v any, s *schema, field string) error {
	if s == nil {
		return nil
	}
	switch s.kind {
	case kObject:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for _, k := range sortedAllKeys(m) {
			sub, known := s.fields[k]
			if !known {
				if allowedUnknown[s][k] {
					continue
				}
				return unknownKey(join(field, k), k, s)
			}
			if err := checkKeys(m[k], sub, join(field, k)); err != nil {
				return err
			}
		}
	case kMapOf:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for _, k := range sortedAllKeys(m) {
			if err := checkKeys(m[k], s.elem, join(field, k)); err != nil {
				return err
			}
		}
	case kListOf:
		l, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, e := range l {
			if err := checkKeys(e, s.elem, field+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	}
	return nil
}

// unknownKey builds the error for key k at field, not among s's fields.
func unknownKey(field, k string, s *schema) error {
	known := make([]string, 0, len(s.fields))
	for f := range s.fields {
		known = append(known, f)
	}
	sort.Strings(known)
	if near := nearest(k, known); near != "" {
		return fieldErr(field, "unknown key (did you mean %s?)", near)
	}
	if where := placesOf(k, dirSchema, ""); len(where) > 0 {
		return fieldErr(field, "unknown key here (%s is a key of %s)", k, strings.Join(where, ", "))
	}
	return fieldErr(field, "unknown key (known keys here: %s)", strings.Join(known, ", "))
}

// placesOf lists the objects of schema s (at path field) that have key k,
// as field paths with NAME and [i] for map and list elements.
func placesOf(k string, s *schema, field string) []string {
	if s == nil {
		return nil
	}
	var out []string
	switch s.kind {
	case kObject:
		if _, ok := s.fields[k]; ok {
			name := field
			if name == "" {
				name = "the top level"
			}
			out = append(out, name)
		}
		names := make([]string, 0, len(s.fields))
		for f := range s.fields {
			names = append(names, f)
		}
		sort.Strings(names)
		for _, f := range names {
			out = append(out, placesOf(k, s.fields[f], join(field, f))...)
		}
	case kMapOf:
		out = placesOf(k, s.elem, join(field, "NAME"))
	case kListOf:
		out = placesOf(k, s.elem, field+"[i]")
	}
	return out
}

// nearest returns the known key closest to k by edit distance, if it is
// close enough to be a likely typo: at most a third of the longer word's
// letters differ (and at least one may, for short keys). Ties go to the
// first in sorted order.
func nearest(k string, known []string) string {
	best, bestD := "", -1
	for _, c := range known {
		d := levenshtein(strings.ToLower(k), c)
		limit := max(len(k), len(c)) / 3
		if limit < 1 {
			limit = 1
		}
		if d <= limit && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// levenshtein is the edit distance between a and b (insertions, deletions,
// substitutions, and a swap of two neighbouring letters counted as one).
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// d[i][j] is the distance between ra[:i] and rb[:j].
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// sortedAllKeys returns the keys of m in order, null values included: a
// misspelt key is a typo whatever its value.
func sortedAllKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

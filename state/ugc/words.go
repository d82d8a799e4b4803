package ugc

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Indexing limits: an item is found by at most maxIndexedWords distinct
// words, taken from its title, then its tags, then its description.
const (
	maxIndexedWords = 64
	minWordLen      = 2
	maxWordLen      = 32
)

// Words returns the distinct search words of the texts, lowercased, in
// order of first appearance: runs of letters and digits of 2 to 32 bytes
// (longer runs are cut). Queries are tokenised the same way, so a query
// word matches an indexed word exactly.
func Words(title, description string, tags []string) []string {
	var out []string
	seen := map[string]struct{}{}
	add := func(s string) bool {
		for _, w := range split(s) {
			if _, dup := seen[w]; dup {
				continue
			}
			if len(out) == maxIndexedWords {
				return false
			}
			seen[w] = struct{}{}
			out = append(out, w)
		}
		return true
	}
	if add(title) && add(strings.Join(tags, " ")) {
		add(description)
	}
	return out
}

// split cuts s into lowercase words.
func split(s string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if w := b.String(); len(w) >= minWordLen {
			out = append(out, w)
		}
		b.Reset()
	}
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			r = unicode.ToLower(r)
			if b.Len()+utf8.RuneLen(r) <= maxWordLen {
				b.WriteRune(r)
			}
			continue
		}
		flush()
	}
	flush()
	return out
}

// QueryWords tokenises a free-text query: its distinct words, at most
// maxQueryWords of them.
func QueryWords(q string) []string {
	var out []string
	seen := map[string]struct{}{}
	for _, w := range split(q) {
		if _, dup := seen[w]; !dup && len(out) < maxQueryWords {
			seen[w] = struct{}{}
			out = append(out, w)
		}
	}
	return out
}

const maxQueryWords = 8

package table

import (
	"slices"
	"testing"
)

func collect(l Log[int]) []int {
	var out []int
	l.Each(func(v int) bool { out = append(out, v); return true })
	return out
}

// TestLogVersions: old versions never change when newer ones append and
// trim past chunk boundaries, and both directions agree.
func TestLogVersions(t *testing.T) {
	var l Log[int]
	var versions []Log[int]
	var want [][]int
	for i := 0; i < 3*logChunk+7; i++ {
		l = l.Append(i).TrimTo(logChunk + 3)
		if i%97 == 0 {
			versions = append(versions, l)
			want = append(want, collect(l))
		}
	}
	for i, v := range versions {
		if got := collect(v); !slices.Equal(got, want[i]) {
			t.Fatalf("version %d changed: %v..., want %v...", i, got[:3], want[i][:3])
		}
	}
	got := collect(l)
	if len(got) != logChunk+3 || got[0] != 2*logChunk+4 || got[len(got)-1] != 3*logChunk+6 {
		t.Fatalf("newest: len %d, first %d, last %d", len(got), got[0], got[len(got)-1])
	}
	var rev []int
	l.EachReverse(func(v int) bool { rev = append(rev, v); return true })
	slices.Reverse(rev)
	if !slices.Equal(rev, got) {
		t.Fatal("EachReverse disagrees with Each")
	}
	if l.TrimTo(0).Len() != 0 || collect(l.TrimTo(0)) != nil {
		t.Fatal("TrimTo(0) left entries")
	}
}

package consensus

import "testing"

func TestPromotionsKeepVotersOdd(t *testing.T) {
	cases := []struct {
		voters, stable, target, want int
	}{
		{voters: 1, stable: 0, target: 3, want: 0},
		{voters: 1, stable: 1, target: 3, want: 0}, // 2 voters would be worse than 1
		{voters: 1, stable: 2, target: 3, want: 2},
		{voters: 1, stable: 5, target: 3, want: 2},
		{voters: 2, stable: 1, target: 3, want: 1}, // after a removal: back to odd
		{voters: 2, stable: 3, target: 5, want: 3},
		{voters: 3, stable: 1, target: 5, want: 0},
		{voters: 3, stable: 2, target: 5, want: 2},
		{voters: 3, stable: 4, target: 3, want: 0},
		{voters: 5, stable: 2, target: 3, want: 0},
		{voters: 1, stable: 4, target: 1, want: 0},
	}
	for _, c := range cases {
		if got := promotions(c.voters, c.stable, c.target); got != c.want {
			t.Errorf("promotions(voters=%d, stable=%d, target=%d) = %d, want %d", c.voters, c.stable, c.target, got, c.want)
		}
		if got := promotions(c.voters, c.stable, c.target); got > 0 && (c.voters+got)%2 == 0 {
			t.Errorf("promotions(%d, %d, %d) leaves an even voter count", c.voters, c.stable, c.target)
		}
	}
}

// A voter failed past the grace is removed only when a stable non-voter
// can replace it or the voters exceed the target.
func TestKeepFailedVoter(t *testing.T) {
	cases := []struct {
		voters, target, spares int
		keep                   bool
	}{
		{voters: 3, target: 3, spares: 0, keep: true}, // a slow restart: removing it only shrinks the cluster
		{voters: 3, target: 3, spares: 1, keep: false},
		{voters: 5, target: 5, spares: 0, keep: true},
		{voters: 5, target: 3, spares: 0, keep: false}, // above target (lowered --voters)
		{voters: 1, target: 1, spares: 0, keep: true},
	}
	for _, c := range cases {
		if got := keepFailedVoter(c.voters, c.target, c.spares); got != c.keep {
			t.Errorf("keepFailedVoter(voters=%d, target=%d, spares=%d) = %v, want %v", c.voters, c.target, c.spares, got, c.keep)
		}
	}
}

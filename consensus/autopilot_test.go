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

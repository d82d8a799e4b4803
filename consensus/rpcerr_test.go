package consensus

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestStatusRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		in   error
		want error
	}{
		{"coded error survives", toStatus(newError(ErrConflict, "dup")), ErrConflict},
		{"no leader survives", toStatus(newError(ErrNoLeader, "x")), ErrNoLeader},
		{"unavailable means retry", status.Error(codes.Unavailable, "conn refused"), ErrNoLeader},
		{"cancelled is the caller's", status.Error(codes.Canceled, "context canceled"), context.Canceled},
	}
	for _, c := range cases {
		if got := fromStatus(c.in); !errors.Is(got, c.want) {
			t.Errorf("%s: fromStatus = %v, want errors.Is %v", c.name, got, c.want)
		}
	}
}

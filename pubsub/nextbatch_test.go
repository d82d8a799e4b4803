package pubsub

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestNextBatch checks that NextBatch returns what is ready, in order, at
// most max, without waiting past the first event, and that it keeps the
// lag bound and the event ids of Next.
func TestNextBatch(t *testing.T) {
	tc := newTestCluster(t, 1, func(_ int, c *Config) { c.SubscriberLag = 40 })
	s := tc.svcs[0]
	sub, err := s.Subscribe(t.Context(), "acme", "feed", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	one, err := s.Subscribe(t.Context(), "acme", "feed", "")
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	publishN(t, s, "acme", "feed", 10)
	got, err := sub.NextBatch(t.Context(), nil, 4)
	if err != nil {
		t.Fatal(err)
	}
	checkMessages(t, got, 1, 4)
	got, err = sub.NextBatch(t.Context(), got[:0], 100) // only 6 are ready: no wait for more
	if err != nil {
		t.Fatal(err)
	}
	checkMessages(t, got, 5, 10)
	// The ids are those Next gives.
	byNext := collectEvents(t, one, 10, time.Second)
	if got[5].ID != byNext[9].ID || got[0].ID != byNext[4].ID {
		t.Fatalf("ids differ: batch %q/%q, next %q/%q", got[0].ID, got[5].ID, byNext[4].ID, byNext[9].ID)
	}
	// Nothing ready: the first event is waited for, like Next.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := sub.NextBatch(ctx, nil, 8); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("empty: %v, want the deadline", err)
	}
	// Falling behind past the lag bound ends a batch subscriber too.
	publishN(t, s, "acme", "feed", 50)
	if _, err := sub.NextBatch(t.Context(), nil, 8); !errors.Is(err, ErrLagged) {
		t.Fatalf("lagging: %v, want ErrLagged", err)
	}
	if _, err := sub.NextBatch(t.Context(), nil, 8); !errors.Is(err, ErrLagged) {
		t.Fatalf("lagged again: %v, want ErrLagged (sticky)", err)
	}
}

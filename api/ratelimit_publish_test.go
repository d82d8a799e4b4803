package api

import (
	"testing"
	"time"
)

// Publishing draws from its own buckets: exhausting the write limit does
// not stop publishing, and exhausting the publish limit does not stop
// writes.
func TestPublishHasItsOwnBuckets(t *testing.T) {
	rl := newRateLimiter(RateLimits{KeyRate: 1, KeyBurst: 1,
		Publish: &RateLimits{KeyRate: 1, KeyBurst: 2}})
	var write, publish *route
	for i := range routes {
		rt := &routes[i]
		switch {
		case rt.publishes():
			publish = rt
		case rt.method == "POST" && rt.path == "/v1/tenants/{tenant}/bans":
			write = rt
		}
	}
	if write == nil || publish == nil {
		t.Fatal("route table lacks the ban-create or publish route")
	}
	p := Principal{Kind: PrincipalAPIKey, ID: "k1", Tenant: "t"}
	now := time.Unix(1000, 0)
	if ok, _ := rl.forRoute(write).allow(p, now); !ok {
		t.Fatal("first write refused")
	}
	if ok, _ := rl.forRoute(write).allow(p, now); ok {
		t.Fatal("second write within the burst of 1 allowed")
	}
	for i := 0; i < 2; i++ {
		if ok, _ := rl.forRoute(publish).allow(p, now); !ok {
			t.Fatalf("publish %d refused although the publish bucket is separate", i)
		}
	}
	if ok, wait := rl.forRoute(publish).allow(p, now); ok || wait <= 0 {
		t.Fatalf("third publish within a burst of 2 allowed (wait %s)", wait)
	}
}

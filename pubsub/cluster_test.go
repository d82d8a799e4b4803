package pubsub

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestInOrderAcrossNodes(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	sub, err := tc.svcs[0].Subscribe(t.Context(), "acme", "chat", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	tc.join(t, 2, "acme", "chat")
	publishN(t, tc.svcs[2], "acme", "chat", 300)
	evs := collectEvents(t, sub, 300, 20*time.Second)
	checkMessages(t, evs, 1, 300)
	if string(evs[0].Payload) != "m0" || evs[0].ContentType != "text/plain" || evs[0].Origin != "node-3" {
		t.Fatalf("first event: %+v", evs[0])
	}
}

// TestGaterRefusesNonMember dials the cluster from a libp2p host whose
// peer ID no member advertises.
func TestGaterRefusesNonMember(t *testing.T) {
	tc := newTestCluster(t, 1, nil)
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport), libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	s := tc.svcs[0]
	addr, _ := tcpMultiaddr(s.Addr())
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err = h.Connect(ctx, peer.AddrInfo{ID: s.PeerID(), Addrs: []ma.Multiaddr{addr}})
	// The TLS handshake completes before InterceptSecured refuses, so the
	// dialler may briefly see a connection: wait until it is gone.
	deadline := time.Now().Add(5 * time.Second)
	for s.host.Network().Connectedness(h.ID()) == network.Connected || h.Network().Connectedness(s.PeerID()) == network.Connected {
		if time.Now().After(deadline) {
			t.Fatalf("non-member stayed connected (connect err %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := testutil.ToFloat64(s.met.refused); got < 1 {
		t.Fatalf("gater refusals = %v (connect err %v)", got, err)
	}
	// And the cluster does not dial it either.
	if err := s.host.Connect(ctx, peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}); err == nil {
		t.Fatal("dialled a non-member")
	}
}

// TestGapRepairedByBackfill drops messages 11..20 of node 3 on node 1, as
// a partition of the publisher would, and checks that node 1 repairs them
// from the origin once later messages show the gap.
func TestGapRepairedByBackfill(t *testing.T) {
	tc := newTestCluster(t, 3, func(i int, c *Config) {
		if i == 0 {
			c.dropGossip = func(e *cassnetv1.Envelope) bool {
				return e.GetOrigin() == "node-3" && e.GetSeq() >= 11 && e.GetSeq() <= 20
			}
		}
	})
	sub, err := tc.svcs[0].Subscribe(t.Context(), "acme", "match", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	tc.join(t, 2, "acme", "match")
	publishN(t, tc.svcs[2], "acme", "match", 30)
	evs := collectEvents(t, sub, 30, 20*time.Second)
	checkMessages(t, evs, 1, 30)
	if got := testutil.ToFloat64(tc.svcs[0].met.backfilled); got < 10 {
		t.Fatalf("backfilled = %v, want >= 10", got)
	}
	if got := testutil.ToFloat64(tc.svcs[0].met.gaps); got != 0 {
		t.Fatalf("gaps = %v", got)
	}
}

// TestTailLossRepairedByHeadAnnouncement drops the last messages of a
// burst: only the origin's head announcement reveals them.
func TestTailLossRepairedByHeadAnnouncement(t *testing.T) {
	tc := newTestCluster(t, 2, func(i int, c *Config) {
		if i == 0 {
			c.dropGossip = func(e *cassnetv1.Envelope) bool {
				return e.GetSeq() >= 6 && e.GetKind() == cassnetv1.EnvelopeKind_ENVELOPE_KIND_MESSAGE
			}
		}
	})
	sub, err := tc.svcs[0].Subscribe(t.Context(), "acme", "tail", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	tc.join(t, 1, "acme", "tail")
	publishN(t, tc.svcs[1], "acme", "tail", 10)
	checkMessages(t, collectEvents(t, sub, 10, 15*time.Second), 1, 10)
}

// TestUnrepairableGapIsReported makes the missing messages unavailable
// everywhere (tiny histories) and expects an explicit gap event.
func TestUnrepairableGapIsReported(t *testing.T) {
	tc := newTestCluster(t, 3, func(i int, c *Config) {
		if i == 0 {
			c.HistorySize = 1000
			c.dropGossip = func(e *cassnetv1.Envelope) bool {
				return e.GetOrigin() == "node-3" && e.GetSeq() >= 6 && e.GetSeq() <= 15
			}
		} else {
			c.HistorySize = 5
		}
	})
	sub, err := tc.svcs[0].Subscribe(t.Context(), "acme", "lossy", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	tc.join(t, 2, "acme", "lossy")
	publishN(t, tc.svcs[2], "acme", "lossy", 30)
	evs := collectEvents(t, sub, 21, 20*time.Second) // 1..5, gap, 16..30
	checkMessages(t, evs[:5], 1, 5)
	if g := evs[5]; g.Kind != EventGap || g.From != 6 || g.To != 15 || g.Origin != "node-3" {
		t.Fatalf("event 6: %+v, want gap 6..15", g)
	}
	checkMessages(t, evs[6:], 16, 30)
	if got := testutil.ToFloat64(tc.svcs[0].met.gaps); got != 1 {
		t.Fatalf("gaps = %v", got)
	}
}

// TestResumeOnAnotherNode resumes a subscription from node 1 on node 2,
// which never carried the topic: it must backfill exactly the missed
// messages from the origin.
func TestResumeOnAnotherNode(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	sub, err := tc.svcs[0].Subscribe(t.Context(), "acme", "lobby", "")
	if err != nil {
		t.Fatal(err)
	}
	tc.join(t, 2, "acme", "lobby")
	publishN(t, tc.svcs[2], "acme", "lobby", 50)
	evs := collectEvents(t, sub, 50, 20*time.Second)
	checkMessages(t, evs, 1, 50)
	sub.Close()
	publishN(t, tc.svcs[2], "acme", "lobby", 20)

	sub2, err := tc.svcs[1].Subscribe(t.Context(), "acme", "lobby", evs[len(evs)-1].ID)
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	checkMessages(t, collectEvents(t, sub2, 20, 10*time.Second), 51, 70)
	publishN(t, tc.svcs[2], "acme", "lobby", 5)
	checkMessages(t, collectEvents(t, sub2, 5, 10*time.Second), 71, 75)
}

func TestResumeUnknownStreamResets(t *testing.T) {
	tc := newTestCluster(t, 1, nil)
	p := newPosition(time.Now().UnixMilli())
	p.advance(12345, 9, 0)
	sub, err := tc.svcs[0].Subscribe(t.Context(), "acme", "x", p.encode())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ev := collectEvents(t, sub, 1, 5*time.Second)[0]
	if ev.Kind != EventReset || ev.Reason == "" {
		t.Fatalf("got %+v, want a reset", ev)
	}
	publishN(t, tc.svcs[0], "acme", "x", 1)
	if ev := collectEvents(t, sub, 1, 5*time.Second)[0]; ev.Kind != EventMessage || ev.Seq != 1 {
		t.Fatalf("after reset: %+v", ev)
	}
}

// TestSlowSubscriberDisconnected checks the lag bound, that publishing
// and other subscribers go on, and that the slow one can resume.
func TestSlowSubscriberDisconnected(t *testing.T) {
	tc := newTestCluster(t, 1, func(_ int, c *Config) { c.SubscriberLag = 10 })
	s := tc.svcs[0]
	slow, err := s.Subscribe(t.Context(), "acme", "feed", "")
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, err := s.Subscribe(t.Context(), "acme", "feed", "")
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	publishN(t, s, "acme", "feed", 5)
	first := collectEvents(t, slow, 3, time.Second)
	checkMessages(t, collectEvents(t, fast, 5, time.Second), 1, 5)
	for i := range 3 { // the slow one does not read: publishing never blocks
		publishN(t, s, "acme", "feed", 8)
		checkMessages(t, collectEvents(t, fast, 8, time.Second), uint64(6+8*i), uint64(13+8*i))
	}
	if _, err := slow.Next(t.Context()); !errors.Is(err, ErrLagged) {
		t.Fatalf("slow subscriber: %v, want ErrLagged", err)
	}
	if got := testutil.ToFloat64(s.met.dropped[dropSlowSub]); got != 1 {
		t.Fatalf("slow_subscriber drops = %v", got)
	}
	slow.Close()
	again, err := s.Subscribe(t.Context(), "acme", "feed", first[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	checkMessages(t, collectEvents(t, again, 26, time.Second), 4, 29)
}

// TestGapRepairedFromAnotherPeer cuts node 1 off from the origin for both
// gossip (messages 5..9) and backfill: the repair must come from node 2,
// which carries the topic too.
func TestGapRepairedFromAnotherPeer(t *testing.T) {
	tc := newTestCluster(t, 3, func(i int, c *Config) {
		if i == 0 {
			c.dropGossip = func(e *cassnetv1.Envelope) bool {
				return e.GetOrigin() == "node-3" && e.GetSeq() >= 5 && e.GetSeq() <= 9
			}
			c.cutBackfill = func(node string) bool { return node == "node-3" }
		}
	})
	sub := tc.subscribeCarried(t, "acme", "relay")
	publishN(t, tc.svcs[2], "acme", "relay", 15)
	checkMessages(t, collectEvents(t, sub, 15, 20*time.Second), 1, 15)
	if got := testutil.ToFloat64(tc.svcs[0].met.backfilled); got < 5 {
		t.Fatalf("backfilled = %v", got)
	}
	// The metrics are registered under their documented names.
	n, err := testutil.GatherAndCount(tc.regs[0], "cassnet_pubsub_published_total", "cassnet_pubsub_delivered_total",
		"cassnet_pubsub_dropped_total", "cassnet_pubsub_backfilled_total", "cassnet_pubsub_gaps_total",
		"cassnet_pubsub_delivery_latency_seconds", "cassnet_pubsub_subscribers", "cassnet_pubsub_topic_subscribers",
		"cassnet_pubsub_peers")
	if err != nil || n < 9 {
		t.Fatalf("gathered %d series: %v", n, err)
	}
}

// TestBatchesKeepOrderAndRepairGaps publishes bursts large enough to be
// coalesced (a linger makes sure), loses messages inside batches on one
// receiver, and expects every message in order there, repaired by
// backfill, with the batches counted.
func TestBatchesKeepOrderAndRepairGaps(t *testing.T) {
	tc := newTestCluster(t, 3, func(i int, c *Config) {
		c.BatchLinger = 5 * time.Millisecond
		c.BatchMax = 16
		if i == 0 {
			c.dropGossip = func(e *cassnetv1.Envelope) bool {
				return e.GetOrigin() == "node-3" && e.GetSeq()%7 == 0
			}
		}
	})
	subs := make([]*Subscription, 2)
	for i := range subs {
		sub, err := tc.svcs[i].Subscribe(t.Context(), "acme", "burst", "")
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		subs[i] = sub
	}
	tc.join(t, 2, "acme", "burst")
	var msgs []Message
	for i := range 100 {
		msgs = append(msgs, Message{ContentType: "text/plain", Payload: []byte{byte(i)}})
	}
	for range 2 {
		res, err := tc.svcs[2].PublishBatch(t.Context(), "acme", "burst", msgs)
		if err != nil || len(res) != len(msgs) {
			t.Fatalf("PublishBatch: %v, %d results", err, len(res))
		}
		for i, r := range res {
			if want := MessageID(r.Origin, r.Epoch, r.Seq); r.ID != want || (i > 0 && r.Seq != res[i-1].Seq+1) {
				t.Fatalf("result %d: %+v, want id %s and consecutive seqs", i, r, want)
			}
		}
	}
	for i, sub := range subs {
		evs := collectEvents(t, sub, 200, 20*time.Second)
		checkMessages(t, evs, 1, 200)
		if i == 0 && testutil.ToFloat64(tc.svcs[0].met.backfilled) < 28 {
			t.Fatalf("backfilled = %v, want >= 28", testutil.ToFloat64(tc.svcs[0].met.backfilled))
		}
	}
	batches, batched := testutil.ToFloat64(tc.svcs[2].met.gossipBatches), testutil.ToFloat64(tc.svcs[2].met.gossipBatched)
	if batched != 200 || batches > 200/4 {
		t.Fatalf("%v messages in %v gossip messages: not coalesced", batched, batches)
	}
}

// TestPublishBatchAllOrNothing refuses a batch with one oversized
// message and publishes none of it.
func TestPublishBatchAllOrNothing(t *testing.T) {
	tc := newTestCluster(t, 1, func(_ int, c *Config) { c.MaxMessageSize = 10 })
	_, err := tc.svcs[0].PublishBatch(t.Context(), "acme", "t", []Message{{Payload: []byte("ok")}, {Payload: make([]byte, 11)}})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	res, err := tc.svcs[0].Publish(t.Context(), "acme", "t", "", []byte("ok"))
	if err != nil || res.Seq != 1 {
		t.Fatalf("next publish: %+v %v, want seq 1", res, err)
	}
}

// TestResetKeepsPositionAhead resumes on a node that is behind the
// subscriber's position in one stream and knows nothing of another: the
// reset must not move the known stream back, or the node would deliver
// again what the subscriber already had.
func TestResetKeepsPositionAhead(t *testing.T) {
	tc := newTestCluster(t, 1, nil)
	publishN(t, tc.svcs[0], "acme", "x", 30)
	name, _ := TopicName("acme", "x")
	top, err := tc.svcs[0].topic(name, false)
	if err != nil || top == nil {
		t.Fatalf("topic: %v", err)
	}
	top.mu.Lock()
	own := top.own.epoch
	top.mu.Unlock()
	p := newPosition(time.Now().UnixMilli())
	p.advance(own, 50, 0)  // ahead of this node (it has 30)
	p.advance(12345, 9, 0) // unknown here: forces a reset
	sub, err := tc.svcs[0].Subscribe(t.Context(), "acme", "x", p.encode())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if ev := collectEvents(t, sub, 1, 5*time.Second)[0]; ev.Kind != EventReset {
		t.Fatalf("got %+v, want a reset", ev)
	}
	publishN(t, tc.svcs[0], "acme", "x", 25) // seq 31..55
	if ev := collectEvents(t, sub, 1, 5*time.Second)[0]; ev.Kind != EventMessage || ev.Seq != 51 {
		t.Fatalf("after the reset: %+v, want seq 51 (31..50 were already given)", ev)
	}
}

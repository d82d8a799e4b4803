package pubsub

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/mesh"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/prometheus/client_golang/prometheus"
)

// fakeMembers is an in-memory membership shared by in-process services.
type fakeMembers struct {
	mu   sync.Mutex
	list []mesh.Member
}

func (f *fakeMembers) Members() []mesh.Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.list)
}

func (f *fakeMembers) add(m mesh.Member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = slices.DeleteFunc(f.list, func(o mesh.Member) bool { return o.ID == m.ID })
	f.list = append(f.list, m)
}

func testLogger() *slog.Logger {
	if os.Getenv("PUBSUB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testCluster is n Services in this process, on 127.0.0.1 with real
// libp2p hosts, sharing one fake membership.
type testCluster struct {
	members *fakeMembers
	svcs    []*Service
	regs    []*prometheus.Registry
	cfgs    []Config
}

func newTestCluster(t *testing.T, n int, tweak func(i int, c *Config)) *testCluster {
	t.Helper()
	return startTestCluster(t, n, tweak)
}

// newTestClusterB is newTestCluster for benchmarks.
func newTestClusterB(b *testing.B, n int) *testCluster {
	b.Helper()
	return startTestCluster(b, n, nil)
}

func startTestCluster(t testing.TB, n int, tweak func(i int, c *Config)) *testCluster {
	t.Helper()
	tc := &testCluster{members: &fakeMembers{}}
	for i := range n {
		key, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		cfg := Config{
			NodeID: fmt.Sprintf("node-%d", i+1), Key: key, ListenAddr: "127.0.0.1:0",
			Members: tc.members, Logger: testLogger().With("node", i+1),
			HoldTimeout: 100 * time.Millisecond,
		}
		if tweak != nil {
			tweak(i, &cfg)
		}
		s := tc.startService(t, i, cfg, reg)
		tc.svcs = append(tc.svcs, s)
		tc.regs = append(tc.regs, reg)
		tc.cfgs = append(tc.cfgs, cfg)
	}
	return tc
}

// startService starts one service of the cluster and makes it a member.
func (tc *testCluster) startService(t testing.TB, i int, cfg Config, reg *prometheus.Registry) *Service {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	tc.members.add(mesh.Member{Meta: mesh.Meta{Name: fmt.Sprintf("n%d", i+1), ID: cfg.NodeID,
		PeerID: s.PeerID().String(), P2PAddr: s.Addr()}, Status: mesh.StatusAlive})
	return s
}

// restart stops service i, losing its memory as a crash would, and
// starts it again with the same identity and configuration (a new
// port).
func (tc *testCluster) restart(t *testing.T, i int) {
	t.Helper()
	if err := tc.svcs[i].Stop(); err != nil {
		t.Fatal(err)
	}
	tc.regs[i] = prometheus.NewRegistry()
	tc.svcs[i] = tc.startService(t, i, tc.cfgs[i], tc.regs[i])
}

// subscribeCarried subscribes on service 0 from the start of the topic,
// closing the subscription when the test ends, and makes services 1 and
// 2 carry the topic too.
func (tc *testCluster) subscribeCarried(t *testing.T, tenant, topicName string) *Subscription {
	t.Helper()
	sub, err := tc.svcs[0].Subscribe(t.Context(), tenant, topicName, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	tc.join(t, 1, tenant, topicName)
	tc.join(t, 2, tenant, topicName)
	return sub
}

// join makes service i carry the topic, then waits until every carrier
// sees the others, so that the next publish is not raced.
func (tc *testCluster) join(t *testing.T, i int, tenant, topicName string) {
	t.Helper()
	name, _ := TopicName(tenant, topicName)
	if _, err := tc.svcs[i].topic(name, true); err != nil {
		t.Fatal(err)
	}
	tc.waitTopicPeers(t, tenant, topicName)
}

// waitTopicPeers waits until every service carrying the topic sees the
// others that carry it in GossipSub, so the next publish is not raced.
func (tc *testCluster) waitTopicPeers(t *testing.T, tenant, topicName string) {
	t.Helper()
	name, _ := TopicName(tenant, topicName)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var carriers []*Service
		var topics []*topic
		for _, s := range tc.svcs {
			if tp, _ := s.topic(name, false); tp != nil {
				carriers, topics = append(carriers, s), append(topics, tp)
			}
		}
		ok := true
		for i, tp := range topics {
			peers := tp.lt.ListPeers()
			for j, other := range carriers {
				if i != j && !slices.Contains(peers, other.PeerID()) {
					ok = false
				}
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: peers do not see each other", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// collect reads n events from sub or fails after timeout.
func collectEvents(t *testing.T, sub *Subscription, n int, timeout time.Duration) []Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var out []Event
	for len(out) < n {
		ev, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, ev)
	}
	return out
}

// checkMessages asserts evs are messages with sequence numbers from..to.
func checkMessages(t *testing.T, evs []Event, from, to uint64) {
	t.Helper()
	if uint64(len(evs)) != to-from+1 {
		t.Fatalf("%d events, want %d (%d..%d)", len(evs), to-from+1, from, to)
	}
	for i, ev := range evs {
		if ev.Kind != EventMessage || ev.Seq != from+uint64(i) {
			t.Fatalf("event %d: %v seq %d (gap %d..%d), want message %d", i, ev.Kind, ev.Seq, ev.From, ev.To, from+uint64(i))
		}
	}
}

func publishN(t *testing.T, s *Service, tenant, topicName string, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.Publish(t.Context(), tenant, topicName, "text/plain", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

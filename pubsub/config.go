package pubsub

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/cassandranet/cassnet/mesh"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// Defaults for Config's zero fields.
const (
	DefaultMaxMessageSize = 64 << 10
	DefaultHistorySize    = 10000
	DefaultHistoryAge     = 5 * time.Minute
	DefaultSubscriberLag  = 4096
	DefaultHoldTimeout    = 200 * time.Millisecond
	DefaultQueueSize      = 4096
	DefaultMaxTopics      = 10000
	DefaultBatchMax       = 256
	DefaultBatchBytes     = 256 << 10
)

// Members is the gossip membership pubsub takes its peers from.
// mesh.Mesh implements it. Members must be safe for concurrent use and
// cheap enough to call a few times a second.
type Members interface {
	Members() []mesh.Member
}

// Config configures a Service. NodeID, Key, ListenAddr and Members are
// required; zero values elsewhere take the defaults above.
type Config struct {
	// NodeID is this node's mesh ID: the origin of what it publishes.
	NodeID string
	// Key is the libp2p identity (see LoadIdentity); its peer ID is what
	// the node advertises as mesh.Meta.PeerID.
	Key crypto.PrivKey
	// ListenAddr is the host:port of the libp2p TCP listener (port 0
	// picks one; see Service.Addr).
	ListenAddr string
	// Members supplies the peers: alive and suspect members that
	// advertise a PeerID and a P2PAddr.
	Members Members
	// Binder, if set, also requires a member's CA-verified certificate
	// to bind the peer ID it advertises (see Binder). The node always
	// sets it; without it gossip membership alone admits a peer.
	Binder *Binder

	// MaxMessageSize bounds a payload in bytes (default 64 KiB).
	MaxMessageSize int
	// HistorySize and HistoryAge bound each topic's history: at most
	// HistorySize events (default 10000), none older than HistoryAge
	// (default 5 min). Backfill and resume are served from it.
	HistorySize int
	HistoryAge  time.Duration
	// SubscriberLag is how many events a subscriber may fall behind the
	// newest before it is disconnected (it may then resume).
	SubscriberLag int
	// HoldTimeout is how long an out-of-order message is held before the
	// gap before it is repaired by backfill.
	HoldTimeout time.Duration
	// QueueSize sizes GossipSub's per-peer outbound queue, its validation
	// queue and each topic's subscription buffer (default 4096).
	QueueSize int
	// MaxTopics bounds the topics this node carries at once.
	MaxTopics int
	// BatchMax and BatchBytes bound one gossip batch (outbox.go): at most
	// BatchMax messages (default 256, at most 1024) and, past the first
	// message, about BatchBytes bytes (default 256 KiB). BatchMax 1 turns
	// coalescing off. BatchLinger is how long the flusher waits for a
	// batch to fill before sending it (default 0: send as soon as the
	// previous batch is handed over, so batches form only under load).
	BatchMax    int
	BatchBytes  int
	BatchLinger time.Duration

	// HeadsPath is the head ledger (heads.go): the file where the
	// flusher records each own stream's head before acknowledging it, so
	// that after a crash this node announces what it had acknowledged and
	// receivers report a gap instead of nothing. Empty: no ledger (a
	// message acknowledged just before a crash may then vanish silently).
	HeadsPath string

	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger

	// dropGossip and cutBackfill are test-only transport hooks: gossip
	// envelopes for which dropGossip returns true are dropped as if lost
	// on the network, and backfill requests to the nodes for which
	// cutBackfill returns true fail as if unreachable.
	dropGossip  func(env *cassnetv1.Envelope) bool
	cutBackfill func(nodeID string) bool
	// now is the clock (default time.Now); tests may replace it.
	now func() time.Time
}

func (c *Config) setDefaults() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("NodeID is required"))
	}
	if c.Key == nil {
		errs = append(errs, errors.New("key is required"))
	}
	if c.Members == nil {
		errs = append(errs, errors.New("members is required"))
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		errs = append(errs, fmt.Errorf("ListenAddr %q: %w", c.ListenAddr, err))
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxMessageSize", &c.MaxMessageSize, DefaultMaxMessageSize},
		{"HistorySize", &c.HistorySize, DefaultHistorySize},
		{"SubscriberLag", &c.SubscriberLag, DefaultSubscriberLag},
		{"QueueSize", &c.QueueSize, DefaultQueueSize},
		{"MaxTopics", &c.MaxTopics, DefaultMaxTopics},
		{"BatchMax", &c.BatchMax, DefaultBatchMax},
		{"BatchBytes", &c.BatchBytes, DefaultBatchBytes},
	} {
		switch {
		case *f.v < 0:
			errs = append(errs, fmt.Errorf("%s must not be negative", f.name))
		case *f.v == 0:
			*f.v = f.def
		}
	}
	if c.MaxMessageSize > 4<<20 {
		errs = append(errs, fmt.Errorf("MaxMessageSize %d exceeds 4 MiB", c.MaxMessageSize))
	}
	if c.BatchMax > maxBatchLen {
		errs = append(errs, fmt.Errorf("BatchMax %d exceeds %d", c.BatchMax, maxBatchLen))
	}
	if c.BatchBytes > 4<<20 {
		errs = append(errs, fmt.Errorf("BatchBytes %d exceeds 4 MiB", c.BatchBytes))
	}
	if c.HistoryAge < 0 || c.HoldTimeout < 0 || c.BatchLinger < 0 {
		errs = append(errs, errors.New("HistoryAge, HoldTimeout and BatchLinger must not be negative"))
	}
	if c.BatchLinger > 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("BatchLinger %s exceeds 100ms", c.BatchLinger))
	}
	if c.HistoryAge == 0 {
		c.HistoryAge = DefaultHistoryAge
	}
	if c.HoldTimeout == 0 {
		c.HoldTimeout = DefaultHoldTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pubsub: config: %w", err)
	}
	return nil
}

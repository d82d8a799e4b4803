// Package settings owns the cluster-wide knobs that must be identical on
// every node, so they live in the replicated state rather than in flags:
// the audit retention, the longest session lifetime and the ban retention.
// Other modules read them inside Apply through InTx.
//
// It must not act on the settings itself (pruning and trimming belong to
// the modules that own the data), and must not touch HTTP or Raft.
package settings

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// Settings are the cluster-wide knobs.
type Settings struct {
	AuditRetention uint32 `json:"audit_retention"`
	// MaxSessionTTLSeconds is the longest lifetime of a player session
	// token. It also bounds how long session revocations and retired
	// signing keys are kept.
	MaxSessionTTLSeconds uint32 `json:"max_session_ttl_seconds"`
	// BanRetentionSeconds is how long an expired or revoked ban is kept
	// before it is pruned. Zero in the state means the default.
	BanRetentionSeconds uint32 `json:"ban_retention_seconds"`
}

// MaxSessionTTL is MaxSessionTTLSeconds as a duration.
func (s Settings) MaxSessionTTL() time.Duration {
	return time.Duration(s.MaxSessionTTLSeconds) * time.Second
}

// BanRetention is how long an ended ban is kept.
func (s Settings) BanRetention() time.Duration {
	return time.Duration(s.BanRetentionSeconds) * time.Second
}

// Defaults used until a SetSettings command says otherwise, and limits.
const (
	DefaultAuditRetention       = 10000
	DefaultMaxSessionTTLSeconds = 24 * 3600
	DefaultBanRetentionSeconds  = 30 * 24 * 3600
	// MaxAuditRetention is the largest audit retention SetSettings accepts.
	MaxAuditRetention = 1_000_000
	// MaxSessionTTLLimit is the largest MaxSessionTTLSeconds accepted (30
	// days).
	MaxSessionTTLLimit = 30 * 24 * 3600
	// MinBanRetention and MaxBanRetention bound BanRetentionSeconds (one
	// hour to ten years).
	MinBanRetention = 3600
	MaxBanRetention = 10 * 365 * 24 * 3600
)

// Store is the settings module. Get is safe for concurrent use.
type Store struct {
	cur atomic.Pointer[Settings] // as stored: BanRetentionSeconds 0 = default
}

// New returns the module with the default settings.
func New() *Store {
	s := &Store{}
	s.cur.Store(&Settings{AuditRetention: DefaultAuditRetention, MaxSessionTTLSeconds: DefaultMaxSessionTTLSeconds})
	return s
}

var _ consensus.Module = (*Store)(nil)

// Name implements consensus.Module.
func (s *Store) Name() string { return "settings" }

func effective(v Settings) Settings {
	if v.BanRetentionSeconds == 0 {
		v.BanRetentionSeconds = DefaultBanRetentionSeconds
	}
	return v
}

// Get returns the effective settings.
func (s *Store) Get() Settings { return effective(*s.cur.Load()) }

type write struct {
	s *Store
	v Settings
}

func (w *write) Commit() { v := w.v; w.s.cur.Store(&v) }

// InTx returns the effective settings as tx sees them.
func (s *Store) InTx(tx *consensus.Tx) Settings {
	if w, ok := tx.Staged(s).(*write); ok {
		return effective(w.v)
	}
	return s.Get()
}

// Register implements consensus.Module.
func (s *Store) Register(r *consensus.Router) {
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.SetSettings]{Validate: validate, Apply: s.set})
}

func validate(op *cassnetv1.SetSettings) error {
	r, ttl, ban := op.GetAuditRetention(), op.GetMaxSessionTtlSeconds(), op.GetBanRetentionSeconds()
	if r == 0 && ttl == 0 && ban == 0 {
		return consensus.NewError(consensus.ErrInvalid, "settings: at least one of audit_retention, max_session_ttl_seconds and ban_retention_seconds must be set")
	}
	if r > MaxAuditRetention {
		return consensus.NewError(consensus.ErrInvalid, "audit_retention: must be between 1 and %d", MaxAuditRetention)
	}
	if ttl != 0 && (ttl < 60 || ttl > MaxSessionTTLLimit) {
		return consensus.NewError(consensus.ErrInvalid, "max_session_ttl_seconds: must be between 60 and %d", MaxSessionTTLLimit)
	}
	if ban != 0 && (ban < MinBanRetention || ban > MaxBanRetention) {
		return consensus.NewError(consensus.ErrInvalid, "ban_retention_seconds: must be between %d and %d", MinBanRetention, MaxBanRetention)
	}
	return nil
}

func (s *Store) set(tx *consensus.Tx, op *cassnetv1.SetSettings) error {
	if op.GetBanRetentionSeconds() != 0 && tx.StateVersion() < consensus.StateVersionDomains {
		return consensus.NewError(consensus.ErrStateVersion, "ban_retention_seconds: needs state version %d; the cluster is at %d until every server is upgraded", consensus.StateVersionDomains, tx.StateVersion())
	}
	w := tx.Stage(s, func() consensus.Pending { return &write{s: s, v: *s.cur.Load()} }).(*write)
	var names []string
	if r := op.GetAuditRetention(); r != 0 {
		w.v.AuditRetention = r
		names = append(names, "audit_retention")
	}
	if ttl := op.GetMaxSessionTtlSeconds(); ttl != 0 {
		w.v.MaxSessionTTLSeconds = ttl
		names = append(names, "max_session_ttl_seconds")
	}
	if ban := op.GetBanRetentionSeconds(); ban != 0 {
		w.v.BanRetentionSeconds = ban
		names = append(names, "ban_retention_seconds")
	}
	tx.Emit(consensus.Event{Action: "settings.set", Target: strings.Join(names, ",")})
	return nil
}

// Snapshot implements consensus.Module.
func (s *Store) Snapshot() consensus.Section { return section(*s.cur.Load()) }

type section Settings

// Hash writes the two first-release settings, then the ban retention only
// when it was set, so that the hash of a state that never set it is the
// first release's.
func (c section) Hash(e *consensus.HashEncoder) {
	e.Section("settings", 2)
	e.U64(uint64(c.AuditRetention))
	e.U64(uint64(c.MaxSessionTTLSeconds))
	if c.BanRetentionSeconds != 0 {
		e.Section("settings.ban_retention", 1)
		e.U64(uint64(c.BanRetentionSeconds))
	}
}

// stored is the snapshot form: the first release's two fields, and the
// ban retention only when set.
type stored struct {
	AuditRetention       uint32 `json:"audit_retention"`
	MaxSessionTTLSeconds uint32 `json:"max_session_ttl_seconds"`
	BanRetentionSeconds  uint32 `json:"ban_retention_seconds,omitempty"`
}

func (c section) Write(w *consensus.SectionWriter) error {
	return w.Value("settings", stored(c))
}

func (c section) Counts() map[string]int { return map[string]int{"settings": 1} }

// Restore implements consensus.Module.
func (s *Store) Restore(tx *consensus.Tx, src consensus.SectionSource) error {
	var in stored
	if err := src.Decode("settings", &in); err != nil {
		return err
	}
	v := Settings{AuditRetention: DefaultAuditRetention, MaxSessionTTLSeconds: DefaultMaxSessionTTLSeconds}
	if r := in.AuditRetention; r != 0 {
		if r > MaxAuditRetention {
			return consensus.NewError(consensus.ErrInvalid, "audit_retention %d out of range", r)
		}
		v.AuditRetention = r
	}
	if ttl := in.MaxSessionTTLSeconds; ttl != 0 {
		if ttl > MaxSessionTTLLimit {
			return consensus.NewError(consensus.ErrInvalid, "max_session_ttl_seconds %d out of range", ttl)
		}
		v.MaxSessionTTLSeconds = ttl
	}
	if b := in.BanRetentionSeconds; b != 0 {
		if b < MinBanRetention || b > MaxBanRetention {
			return consensus.NewError(consensus.ErrInvalid, "ban_retention_seconds %d out of range", b)
		}
		v.BanRetentionSeconds = b
	}
	tx.Stage(s, func() consensus.Pending { return &write{s: s, v: v} })
	return nil
}

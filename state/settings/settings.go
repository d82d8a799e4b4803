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

	// The autopilot settings (GET/PUT /v1/operator/autopilot), which
	// override every agent's flags once set. Zero means unset. They need
	// state version 2.
	AutopilotStabilizationSeconds   uint32 `json:"-"`
	AutopilotDeadServerGraceSeconds uint32 `json:"-"`
	AutopilotTargetVoters           uint32 `json:"-"`
	// AutopilotCleanupDeadServers is CleanupUnset, CleanupOn or
	// CleanupOff.
	AutopilotCleanupDeadServers uint32 `json:"-"`
}

// Values of Settings.AutopilotCleanupDeadServers.
const (
	CleanupUnset = 0
	CleanupOn    = 1
	CleanupOff   = 2
)

// autopilotSet reports whether any autopilot setting is set.
func (s Settings) autopilotSet() bool {
	return s.AutopilotStabilizationSeconds != 0 || s.AutopilotDeadServerGraceSeconds != 0 ||
		s.AutopilotTargetVoters != 0 || s.AutopilotCleanupDeadServers != CleanupUnset
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
	// MaxAutopilotSeconds bounds the autopilot stabilisation time and
	// dead-server grace (one day and 30 days; at least 1 s).
	MaxAutopilotStabilization   = 24 * 3600
	MaxAutopilotDeadServerGrace = 30 * 24 * 3600
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
	if r == 0 && ttl == 0 && ban == 0 && !autopilotOp(op) {
		return consensus.NewError(consensus.ErrInvalid, "settings: at least one of audit_retention, max_session_ttl_seconds, ban_retention_seconds and the autopilot settings must be set")
	}
	if v := op.GetAutopilotStabilizationSeconds(); v > MaxAutopilotStabilization {
		return consensus.NewError(consensus.ErrInvalid, "autopilot_stabilization_seconds: must be between 1 and %d", MaxAutopilotStabilization)
	}
	if v := op.GetAutopilotDeadServerGraceSeconds(); v > MaxAutopilotDeadServerGrace {
		return consensus.NewError(consensus.ErrInvalid, "autopilot_dead_server_grace_seconds: must be between 1 and %d", MaxAutopilotDeadServerGrace)
	}
	if v := op.GetAutopilotTargetVoters(); v != 0 && !validVoters(v) {
		return consensus.NewError(consensus.ErrInvalid, "autopilot_target_voters: must be 1, 3, 5 or 7")
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

func validVoters(v uint32) bool { return v == 1 || v == 3 || v == 5 || v == 7 }

// autopilotOp reports whether op sets any autopilot setting.
func autopilotOp(op *cassnetv1.SetSettings) bool {
	return op.GetAutopilotStabilizationSeconds() != 0 || op.GetAutopilotDeadServerGraceSeconds() != 0 ||
		op.GetAutopilotTargetVoters() != 0 || op.AutopilotCleanupDeadServers != nil
}

func (s *Store) set(tx *consensus.Tx, op *cassnetv1.SetSettings) error {
	if op.GetBanRetentionSeconds() != 0 && tx.StateVersion() < consensus.StateVersionDomains {
		return consensus.NewError(consensus.ErrStateVersion, "ban_retention_seconds: needs state version %d; the cluster is at %d until every server is upgraded", consensus.StateVersionDomains, tx.StateVersion())
	}
	// First-release nodes do not know the autopilot fields and would
	// apply the command without them.
	if autopilotOp(op) && tx.StateVersion() < consensus.StateVersionDomains {
		return consensus.NewError(consensus.ErrConflict, "autopilot settings: need state version %d; the cluster is at %d until every server is upgraded", consensus.StateVersionDomains, tx.StateVersion())
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
	if v := op.GetAutopilotStabilizationSeconds(); v != 0 {
		w.v.AutopilotStabilizationSeconds = v
		names = append(names, "autopilot_stabilization_seconds")
	}
	if v := op.GetAutopilotDeadServerGraceSeconds(); v != 0 {
		w.v.AutopilotDeadServerGraceSeconds = v
		names = append(names, "autopilot_dead_server_grace_seconds")
	}
	if v := op.GetAutopilotTargetVoters(); v != 0 {
		w.v.AutopilotTargetVoters = v
		names = append(names, "autopilot_target_voters")
	}
	if op.AutopilotCleanupDeadServers != nil {
		w.v.AutopilotCleanupDeadServers = CleanupOff
		if op.GetAutopilotCleanupDeadServers() {
			w.v.AutopilotCleanupDeadServers = CleanupOn
		}
		names = append(names, "autopilot_cleanup_dead_servers")
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
	if Settings(c).autopilotSet() {
		e.Section("settings.autopilot", 4)
		e.U64(uint64(c.AutopilotStabilizationSeconds))
		e.U64(uint64(c.AutopilotDeadServerGraceSeconds))
		e.U64(uint64(c.AutopilotTargetVoters))
		e.U64(uint64(c.AutopilotCleanupDeadServers))
	}
}

// stored is the snapshot form: the first release's two fields, and the
// ban retention only when set.
type stored struct {
	AuditRetention       uint32 `json:"audit_retention"`
	MaxSessionTTLSeconds uint32 `json:"max_session_ttl_seconds"`
	BanRetentionSeconds  uint32 `json:"ban_retention_seconds,omitempty"`
	// The autopilot settings, only when any is set.
	Autopilot *storedAutopilot `json:"autopilot,omitempty"`
}

type storedAutopilot struct {
	StabilizationSeconds   uint32 `json:"stabilization_seconds,omitempty"`
	DeadServerGraceSeconds uint32 `json:"dead_server_grace_seconds,omitempty"`
	TargetVoters           uint32 `json:"target_voters,omitempty"`
	CleanupDeadServers     uint32 `json:"cleanup_dead_servers,omitempty"` // CleanupOn, CleanupOff
}

func (c section) Write(w *consensus.SectionWriter) error {
	out := stored{AuditRetention: c.AuditRetention, MaxSessionTTLSeconds: c.MaxSessionTTLSeconds, BanRetentionSeconds: c.BanRetentionSeconds}
	if Settings(c).autopilotSet() {
		out.Autopilot = &storedAutopilot{c.AutopilotStabilizationSeconds, c.AutopilotDeadServerGraceSeconds, c.AutopilotTargetVoters, c.AutopilotCleanupDeadServers}
	}
	return w.Value("settings", out)
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
	if a := in.Autopilot; a != nil {
		if a.StabilizationSeconds > MaxAutopilotStabilization || a.DeadServerGraceSeconds > MaxAutopilotDeadServerGrace ||
			(a.TargetVoters != 0 && !validVoters(a.TargetVoters)) || a.CleanupDeadServers > CleanupOff {
			return consensus.NewError(consensus.ErrInvalid, "autopilot settings out of range")
		}
		v.AutopilotStabilizationSeconds, v.AutopilotDeadServerGraceSeconds = a.StabilizationSeconds, a.DeadServerGraceSeconds
		v.AutopilotTargetVoters, v.AutopilotCleanupDeadServers = a.TargetVoters, a.CleanupDeadServers
	}
	tx.Stage(s, func() consensus.Pending { return &write{s: s, v: v} })
	return nil
}

// Autopilot returns the autopilot settings for consensus.Config's
// AutopilotSettings: the unset ones stay zero, so the agent's flags apply.
func (s Settings) Autopilot() consensus.AutopilotOverrides {
	o := consensus.AutopilotOverrides{
		StabilizationTime: time.Duration(s.AutopilotStabilizationSeconds) * time.Second,
		DeadServerGrace:   time.Duration(s.AutopilotDeadServerGraceSeconds) * time.Second,
		Voters:            int(s.AutopilotTargetVoters),
	}
	if s.AutopilotCleanupDeadServers != CleanupUnset {
		on := s.AutopilotCleanupDeadServers == CleanupOn
		o.CleanupDeadServers = &on
	}
	return o
}

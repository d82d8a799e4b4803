package consensus

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// State is the data the replicated state machine holds. It is safe for
// concurrent use: the FSM mutates it under a write lock, and readers take a
// read lock. Every accessor returns copies, never pointers into the state.
//
// Invariant: the state never writes through a *time.Time or into a []byte
// it holds; a change replaces the pointer or slice. That is what lets the
// snapshot share them with the live state while Apply carries on.
type State struct {
	mu      sync.RWMutex
	index   uint64        // Raft index of the last applied entry
	changed chan struct{} // closed and replaced whenever index moves
	gen     uint64        // bumped whenever the replicated data changes

	hashMemo atomic.Pointer[hashMemo] // last Hash result; see Hash

	tenants  map[string]*tenantState
	tokens   map[string]OperatorToken
	settings Settings
	audit    []AuditEntry // oldest first, at most settings.AuditRetention

	keyTenant map[string]string     // API key ID -> tenant; the keys live in tenantState
	signing   map[string]SigningKey // by KID

	gossipKeys [][]byte             // gossip keyring, primary first (keyring.go)
	joinTokens map[string]JoinToken // by ID (jointokens.go)

	// nextPrune is derived, not replicated: no item expires before it, so
	// prune skips its sweep until the leader's time reaches it. The zero
	// time (after a restore) only makes the next sweep happen sooner; the
	// data pruned is the same on every node. See prune.go.
	nextPrune time.Time
}

// tenantState is one tenant and everything that belongs to it, so that
// deleting a tenant is dropping one map entry.
type tenantState struct {
	info     Tenant
	projects map[string]Project
	bans     map[string]*Ban   // by ban ID
	byPlayer map[string][]*Ban // by player ID, in apply order; same pointers as bans

	keys     map[string]APIKey            // by key ID
	sessions map[string]SessionRevocation // by session ID
	players  map[playerScope]PlayerRevocation
}

// playerScope keys a player revocation: project "" is tenant-wide.
type playerScope struct{ player, project string }

// NewState returns an empty state at index 0.
func NewState() *State {
	s := &State{changed: make(chan struct{})}
	s.reset()
	return s
}

// reset empties the replicated data. The caller holds the write lock (or
// owns s exclusively).
func (s *State) reset() {
	s.tenants = make(map[string]*tenantState)
	s.tokens = make(map[string]OperatorToken)
	s.settings = Settings{AuditRetention: DefaultAuditRetention, MaxSessionTTLSeconds: DefaultMaxSessionTTLSeconds}
	s.audit = nil
	s.keyTenant = make(map[string]string)
	s.signing = make(map[string]SigningKey)
	s.gossipKeys = nil
	s.joinTokens = make(map[string]JoinToken)
	s.nextPrune = time.Time{}
}

// advance records that the entry at index has been applied and wakes every
// waiter. The caller holds the write lock.
func (s *State) advance(index uint64) {
	s.index = index
	close(s.changed)
	s.changed = make(chan struct{})
}

// generation returns the data generation, for the Hash memo.
func (s *State) generation() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gen
}

// Index is the Raft index of the last command applied.
func (s *State) Index() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.index
}

// WaitIndex returns once Index() >= min, or with ctx's error.
func (s *State) WaitIndex(ctx context.Context, min uint64) error {
	if min == 0 {
		return nil
	}
	return s.WaitChange(ctx, min-1)
}

// WaitChange returns once Index() > after, or with ctx's error. It is the
// primitive behind blocking queries.
func (s *State) WaitChange(ctx context.Context, after uint64) error {
	for {
		s.mu.RLock()
		index, ch := s.index, s.changed
		s.mu.RUnlock()
		if index > after {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Tenants returns every tenant, sorted by name.
func (s *State) Tenants() []Tenant {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Tenant, 0, len(s.tenants))
	for _, t := range s.tenants {
		out = append(out, t.info)
	}
	slices.SortFunc(out, func(a, b Tenant) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Tenant returns the named tenant.
func (s *State) Tenant(name string) (Tenant, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tenants[name]
	if !ok {
		return Tenant{}, false
	}
	return t.info, true
}

// Projects returns the tenant's projects sorted by name, or ErrNotFound if
// the tenant does not exist.
func (s *State) Projects(tenant string) ([]Project, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tenants[tenant]
	if !ok {
		return nil, newError(ErrNotFound, "tenant %q", tenant)
	}
	return slices.SortedFunc(maps.Values(t.projects), func(a, b Project) int {
		return cmp.Compare(a.Name, b.Name)
	}), nil
}

// Project returns one project of a tenant.
func (s *State) Project(tenant, name string) (Project, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tenants[tenant]
	if !ok {
		return Project{}, false
	}
	p, ok := t.projects[name]
	return p, ok
}

// Bans returns the tenant's bans that pass f, sorted by CreatedAt then ID,
// or ErrNotFound if the tenant does not exist. Revoked and expired bans are
// included unless f.ActiveAt is set.
func (s *State) Bans(tenant string, f BanFilter) ([]Ban, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tenants[tenant]
	if !ok {
		return nil, newError(ErrNotFound, "tenant %q", tenant)
	}
	var out []Ban
	add := func(b *Ban) {
		if f.ActiveAt == nil || b.ActiveAt(*f.ActiveAt) {
			out = append(out, cloneBan(b))
		}
	}
	if f.PlayerID != "" {
		for _, b := range t.byPlayer[f.PlayerID] {
			add(b)
		}
	} else {
		for _, b := range t.bans {
			add(b)
		}
	}
	slices.SortFunc(out, func(a, b Ban) int { return compareBans(&a, &b) })
	return out, nil
}

// Ban returns one ban of a tenant.
func (s *State) Ban(tenant, id string) (Ban, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tenants[tenant]
	if !ok {
		return Ban{}, false
	}
	b, ok := t.bans[id]
	if !ok {
		return Ban{}, false
	}
	return cloneBan(b), true
}

// ActiveBan reports whether the player is banned at now from the tenant's
// project projectID (or from the tenant as a whole when projectID is "").
// A tenant-wide ban always counts; a project ban counts only for its
// project. When several bans apply it returns the one that lasts longest
// (permanent first), ties broken by CreatedAt then ID, so every node gives
// the same answer. It costs O(bans of that player) and does not allocate
// unless a ban with an expiry is found.
func (s *State) ActiveBan(tenant, playerID, projectID string, now time.Time) (Ban, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tenants[tenant]
	if !ok {
		return Ban{}, false
	}
	var best *Ban
	for _, b := range t.byPlayer[playerID] {
		if b.ProjectID != "" && b.ProjectID != projectID {
			continue
		}
		if !b.ActiveAt(now) {
			continue
		}
		if best == nil || outlasts(b, best) {
			best = b
		}
	}
	if best == nil {
		return Ban{}, false
	}
	return cloneBan(best), true
}

// Audit returns up to limit audit entries, newest first, for one tenant or,
// when tenant is "", for all. A limit <= 0 means every retained entry.
func (s *State) Audit(tenant string, limit int) []AuditEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []AuditEntry
	for i := len(s.audit) - 1; i >= 0; i-- {
		if limit > 0 && len(out) >= limit {
			break
		}
		if e := s.audit[i]; tenant == "" || e.Tenant == tenant {
			out = append(out, e)
		}
	}
	return out
}

// OperatorToken returns the operator token record with the given ID.
func (s *State) OperatorToken(id string) (OperatorToken, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	tok, ok := s.tokens[id]
	if !ok {
		return OperatorToken{}, false
	}
	tok.SecretSHA256 = slices.Clone(tok.SecretSHA256)
	tok.ExpiresAt = cloneTime(tok.ExpiresAt)
	return tok, true
}

// Settings returns the cluster settings. AuditRetention is
// DefaultAuditRetention until a SetSettings command changes it.
func (s *State) Settings() Settings {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.settings
}

// cloneBan returns a copy of b that shares no memory with it.
func cloneBan(b *Ban) Ban {
	c := *b
	c.ExpiresAt = cloneTime(b.ExpiresAt)
	c.RevokedAt = cloneTime(b.RevokedAt)
	return c
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// compareBans orders bans by CreatedAt, then ID.
func compareBans(a, b *Ban) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// outlasts reports whether a should be reported in preference to b: it
// ends later (never is latest), or ends at the same time and sorts first.
func outlasts(a, b *Ban) bool {
	switch {
	case a.ExpiresAt == nil && b.ExpiresAt != nil:
		return true
	case a.ExpiresAt != nil && b.ExpiresAt == nil:
		return false
	case a.ExpiresAt != nil && !a.ExpiresAt.Equal(*b.ExpiresAt):
		return a.ExpiresAt.After(*b.ExpiresAt)
	}
	return compareBans(a, b) < 0
}

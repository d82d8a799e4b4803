package consensus

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// snapshotVersion is the version of the snapshot format Persist writes.
// Restore reads it and version 1 (before identity and access), whose
// missing lists are empty. A node that only knows version 1 refuses a
// version 2 snapshot instead of silently dropping the keys in it.
const snapshotVersion = 2

// snapshotData is the snapshot format: one JSON object with flat, sorted
// lists. Persist streams it element by element, so encoding a large state
// does not need a second copy of it in memory as JSON.
type snapshotData struct {
	Version        int             `json:"version"`
	Index          uint64          `json:"index"`
	Settings       Settings        `json:"settings"`
	Tenants        []Tenant        `json:"tenants"`
	Projects       []Project       `json:"projects"`
	Bans           []Ban           `json:"bans"`
	OperatorTokens []OperatorToken `json:"operator_tokens"`
	Audit          []AuditEntry    `json:"audit"` // oldest first

	APIKeys            []APIKey            `json:"api_keys"`
	SigningKeys        []SigningKey        `json:"signing_keys"`
	SessionRevocations []SessionRevocation `json:"session_revocations"`
	PlayerRevocations  []PlayerRevocation  `json:"player_revocations"`
	// GossipKeys is the gossip keyring, primary first (order matters).
	GossipKeys [][]byte    `json:"gossip_keys"`
	JoinTokens []JoinToken `json:"join_tokens"`

	gen uint64 // data generation the copy was taken at (not persisted)
}

// snapshot copies the state under the read lock. Ban and token values are
// copied; the *time.Time and []byte they point to are shared, which is safe
// because the state never writes through them (see State).
func (s *State) snapshot() *snapshotData {
	s.mu.RLock()
	defer s.mu.RUnlock()
	nProjects, nBans := 0, 0
	for _, t := range s.tenants {
		nProjects += len(t.projects)
		nBans += len(t.bans)
	}
	d := &snapshotData{
		Version:        snapshotVersion,
		Index:          s.index,
		gen:            s.gen,
		Settings:       s.settings,
		Tenants:        make([]Tenant, 0, len(s.tenants)),
		Projects:       make([]Project, 0, nProjects),
		Bans:           make([]Ban, 0, nBans),
		OperatorTokens: make([]OperatorToken, 0, len(s.tokens)),
		Audit:          slices.Clone(s.audit),      // appendAudit clears dropped entries
		GossipKeys:     slices.Clone(s.gossipKeys), // keys are never written through
		JoinTokens:     slices.Collect(maps.Values(s.joinTokens)),
	}
	for _, t := range s.tenants {
		d.Tenants = append(d.Tenants, t.info)
		for _, p := range t.projects {
			d.Projects = append(d.Projects, p)
		}
		for _, b := range t.bans {
			d.Bans = append(d.Bans, *b)
		}
		for _, k := range t.keys {
			d.APIKeys = append(d.APIKeys, k)
		}
		for _, r := range t.sessions {
			d.SessionRevocations = append(d.SessionRevocations, r)
		}
		for _, r := range t.players {
			d.PlayerRevocations = append(d.PlayerRevocations, r)
		}
	}
	for _, tok := range s.tokens {
		d.OperatorTokens = append(d.OperatorTokens, tok)
	}
	for _, k := range s.signing {
		d.SigningKeys = append(d.SigningKeys, k)
	}
	return d
}

// fsmSnapshot is a point-in-time copy waiting to be persisted.
type fsmSnapshot struct {
	data *snapshotData
}

// Persist sorts and encodes the copy into sink, closing it on success and
// cancelling it on failure.
func (f *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := f.data.write(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release drops the copy.
func (f *fsmSnapshot) Release() { f.data = nil }

// sort puts every list in a total, deterministic order: tenants by name,
// projects by tenant and name, bans by tenant, CreatedAt and ID, tokens by
// ID. The audit log stays in apply order.
func (d *snapshotData) sort() {
	slices.SortFunc(d.Tenants, func(a, b Tenant) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(d.Projects, func(a, b Project) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Name, b.Name))
	})
	slices.SortFunc(d.Bans, func(a, b Ban) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), compareBans(&a, &b))
	})
	slices.SortFunc(d.OperatorTokens, func(a, b OperatorToken) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(d.APIKeys, func(a, b APIKey) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(d.SigningKeys, func(a, b SigningKey) int { return cmp.Compare(a.KID, b.KID) })
	slices.SortFunc(d.SessionRevocations, func(a, b SessionRevocation) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.SessionID, b.SessionID))
	})
	slices.SortFunc(d.PlayerRevocations, comparePlayerRevocations)
	slices.SortFunc(d.JoinTokens, func(a, b JoinToken) int { return cmp.Compare(a.ID, b.ID) })
}

// write encodes d as JSON with every list in a deterministic order.
func (d *snapshotData) write(w io.Writer) error {
	d.sort()
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	bw.WriteString(`{"version":` + strconv.Itoa(d.Version) +
		`,"index":` + strconv.FormatUint(d.Index, 10) + `,"settings":`)
	if err := enc.Encode(d.Settings); err != nil {
		return err
	}
	for _, err := range []error{
		writeList(bw, enc, "tenants", d.Tenants),
		writeList(bw, enc, "projects", d.Projects),
		writeList(bw, enc, "bans", d.Bans),
		writeList(bw, enc, "operator_tokens", d.OperatorTokens),
		writeList(bw, enc, "audit", d.Audit),
		writeList(bw, enc, "api_keys", d.APIKeys),
		writeList(bw, enc, "signing_keys", d.SigningKeys),
		writeList(bw, enc, "session_revocations", d.SessionRevocations),
		writeList(bw, enc, "player_revocations", d.PlayerRevocations),
		writeList(bw, enc, "gossip_keys", d.GossipKeys),
		writeList(bw, enc, "join_tokens", d.JoinTokens),
	} {
		if err != nil {
			return err
		}
	}
	bw.WriteString("}\n")
	return bw.Flush() // bufio errors are sticky, so this reports any write error
}

func writeList[T any](bw *bufio.Writer, enc *json.Encoder, key string, items []T) error {
	bw.WriteString(`,"` + key + `":[`)
	for i := range items {
		if i > 0 {
			bw.WriteByte(',')
		}
		if err := enc.Encode(&items[i]); err != nil {
			return fmt.Errorf("%s[%d]: %w", key, i, err)
		}
	}
	bw.WriteString("]")
	return nil
}

// readSnapshot decodes a snapshot and checks its version.
func readSnapshot(r io.Reader) (*snapshotData, error) {
	var d snapshotData
	if err := json.NewDecoder(bufio.NewReaderSize(r, 64<<10)).Decode(&d); err != nil {
		return nil, fmt.Errorf("restore snapshot: decode: %w", err)
	}
	if d.Version != snapshotVersion && d.Version != 1 {
		return nil, fmt.Errorf("restore snapshot: unknown version %d (want 1 or %d)", d.Version, snapshotVersion)
	}
	return &d, nil
}

// restore replaces the state with d. It builds the new tables and indexes
// first and checks that every reference resolves; only then does it swap
// them in, set the applied index and wake waiters. On error the state is
// unchanged.
func (s *State) restore(d *snapshotData) error {
	fresh := NewState()
	if r := d.Settings.AuditRetention; r != 0 {
		if r > MaxAuditRetention {
			return fmt.Errorf("restore snapshot: audit_retention %d out of range", r)
		}
		fresh.settings.AuditRetention = r
	}
	if ttl := d.Settings.MaxSessionTTLSeconds; ttl != 0 {
		if ttl > MaxSessionTTLLimit {
			return fmt.Errorf("restore snapshot: max_session_ttl_seconds %d out of range", ttl)
		}
		fresh.settings.MaxSessionTTLSeconds = ttl
	}
	for _, t := range d.Tenants {
		if _, ok := fresh.tenants[t.Name]; ok || t.Name == "" {
			return fmt.Errorf("restore snapshot: duplicate or empty tenant %q", t.Name)
		}
		t.CreatedAt = t.CreatedAt.UTC()
		fresh.tenants[t.Name] = newTenantState(t)
	}
	for _, p := range d.Projects {
		t, ok := fresh.tenants[p.Tenant]
		if !ok {
			return fmt.Errorf("restore snapshot: project %q: unknown tenant %q", p.Name, p.Tenant)
		}
		if _, dup := t.projects[p.Name]; dup {
			return fmt.Errorf("restore snapshot: duplicate project %q in tenant %q", p.Name, p.Tenant)
		}
		p.CreatedAt = p.CreatedAt.UTC()
		t.projects[p.Name] = p
	}
	for i := range d.Bans {
		b := d.Bans[i]
		t, ok := fresh.tenants[b.Tenant]
		if !ok {
			return fmt.Errorf("restore snapshot: ban %q: unknown tenant %q", b.ID, b.Tenant)
		}
		if _, ok := t.projects[b.ProjectID]; b.ProjectID != "" && !ok {
			return fmt.Errorf("restore snapshot: ban %q: unknown project %q", b.ID, b.ProjectID)
		}
		if _, dup := t.bans[b.ID]; dup {
			return fmt.Errorf("restore snapshot: duplicate ban %q in tenant %q", b.ID, b.Tenant)
		}
		b.CreatedAt = b.CreatedAt.UTC()
		b.ExpiresAt, b.RevokedAt = utcPtr(b.ExpiresAt), utcPtr(b.RevokedAt)
		t.addBan(&b)
	}
	for _, tok := range d.OperatorTokens {
		if _, dup := fresh.tokens[tok.ID]; dup {
			return fmt.Errorf("restore snapshot: duplicate operator token %q", tok.ID)
		}
		tok.CreatedAt = tok.CreatedAt.UTC()
		tok.ExpiresAt = utcPtr(tok.ExpiresAt)
		fresh.tokens[tok.ID] = tok
	}
	for _, e := range d.Audit {
		e.Time = e.Time.UTC()
		fresh.appendAudit(e)
	}
	if err := restoreIdentity(fresh, d); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if err := restoreGossipKeys(fresh, d.GossipKeys); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if err := restoreJoinTokens(fresh, d.JoinTokens); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.tenants, s.tokens, s.settings, s.audit = fresh.tenants, fresh.tokens, fresh.settings, fresh.audit
	s.keyTenant, s.signing, s.nextPrune = fresh.keyTenant, fresh.signing, time.Time{}
	s.gossipKeys, s.joinTokens = fresh.gossipKeys, fresh.joinTokens
	s.gen++
	s.advance(d.Index)
	return nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

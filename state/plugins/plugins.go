// Package plugins owns the replicated registry of each tenant's Wasm
// plugins: plugin name → module sha256, the module bytes (stored once per
// sha256 and reference-counted), the module's manifest as the proposing
// node read it, the plugin's config JSON and its fail-open flag. It also
// records plugin failures (audited, and delivered as plugin.failed).
//
// It never runs a plugin and never parses a module: the runtime (package
// plugin) reads what this package holds and loads it on every node; the
// API reads a new module's manifest before it proposes PutPlugin. Apply is
// deterministic: everything it stores came in the command.
package plugins

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/table"
	"github.com/cassandranet/cassnet/state/tenancy"
)

// Limits.
const (
	// MaxModuleBytes is the largest module a plugin may have.
	MaxModuleBytes = 8 << 20
	// MaxManifestBytes bounds a manifest's JSON.
	MaxManifestBytes = 16 << 10
	// MaxConfigBytes bounds a plugin's config JSON.
	MaxConfigBytes = 64 << 10
	// MaxPluginsPerTenant bounds how many plugins one tenant may install.
	MaxPluginsPerTenant = 16
	maxFailureMessage   = 512
)

// EventFailed is the action of the event a RecordPluginFailure emits.
const EventFailed = "plugin.failed"

// Plugin is one installed plugin. Module bytes are read with Module.
type Plugin struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	// SHA256 is the module's hex SHA-256: what every node loads.
	SHA256   string          `json:"sha256"`
	Size     int             `json:"size"`
	Manifest json.RawMessage `json:"manifest"`
	// Config is a JSON object; "{}" when never set.
	Config    json.RawMessage `json:"config"`
	FailOpen  bool            `json:"fail_open"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	UpdatedBy string          `json:"updated_by"`
}

// blob is one module, stored once however many plugins use it.
type blob struct {
	SHA256 string `json:"sha256"`
	Module []byte `json:"module"`
}

// Store is the plugins module. Its read accessors are safe for concurrent
// use and never block Apply.
type Store struct {
	tenancy *tenancy.Store
	cur     atomic.Pointer[data]
}

// data is one immutable version. Stored values are never changed.
type data struct {
	plugins table.Table[*Plugin] // Key(tenant, name)
	blobs   table.Table[*blob]   // sha256 hex
	// Derived (rebuilt on restore, never hashed or written):
	refs    table.Table[int] // sha256 hex -> plugins using it
	counts  table.Table[int] // tenant -> plugins
	changed chan struct{}    // closed when a newer version is committed
}

// New returns an empty plugins module that checks tenants in ten.
func New(ten *tenancy.Store) *Store {
	s := &Store{tenancy: ten}
	s.cur.Store(&data{changed: make(chan struct{})})
	return s
}

var (
	_ consensus.Module        = (*Store)(nil)
	_ consensus.TenantDropper = (*Store)(nil)
)

// Name implements consensus.Module.
func (s *Store) Name() string { return "plugins" }

type write struct {
	s       *Store
	prev    *data
	plugins *table.Txn[*Plugin]
	blobs   *table.Txn[*blob]
	refs    *table.Txn[int]
	counts  *table.Txn[int]
}

func (w *write) Commit() {
	w.s.cur.Store(&data{plugins: w.plugins.Commit(), blobs: w.blobs.Commit(), refs: w.refs.Commit(),
		counts: w.counts.Commit(), changed: make(chan struct{})})
	if w.prev.changed != nil {
		close(w.prev.changed)
	}
}

func (s *Store) begin(d *data) *write {
	return &write{s: s, prev: s.cur.Load(), plugins: d.plugins.Txn(), blobs: d.blobs.Txn(), refs: d.refs.Txn(), counts: d.counts.Txn()}
}

func (s *Store) write(tx *consensus.Tx) *write {
	return tx.Stage(s, func() consensus.Pending { return s.begin(s.cur.Load()) }).(*write)
}

func bump(t *table.Txn[int], key string, by int) int {
	n, _ := t.Get(key)
	if n += by; n <= 0 {
		t.Delete(key)
		return 0
	}
	t.Put(key, n)
	return n
}

// put stores p in place of old (nil for a new plugin), keeping the blob
// references in step; mod is p's module when the blob may be new.
func (w *write) put(old, p *Plugin, mod []byte) {
	if old == nil {
		bump(w.counts, p.Tenant, 1)
	}
	if old == nil || old.SHA256 != p.SHA256 {
		if bump(w.refs, p.SHA256, 1) == 1 {
			if _, ok := w.blobs.Get(p.SHA256); !ok {
				w.blobs.Put(p.SHA256, &blob{SHA256: p.SHA256, Module: mod})
			}
		}
		if old != nil {
			w.unref(old.SHA256)
		}
	}
	w.plugins.Put(table.Key(p.Tenant, p.Name), p)
}

func (w *write) unref(sum string) {
	if bump(w.refs, sum, -1) == 0 {
		w.blobs.Delete(sum)
	}
}

func (w *write) remove(p *Plugin) {
	w.plugins.Delete(table.Key(p.Tenant, p.Name))
	bump(w.counts, p.Tenant, -1)
	w.unref(p.SHA256)
}

// Register implements consensus.Module.
func (s *Store) Register(r *consensus.Router) {
	v := uint32(consensus.StateVersionManagement)
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.PutPlugin]{Validate: ValidatePut, Apply: s.put, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.SetPluginConfig]{Validate: validateConfig, Apply: s.setConfig, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.DeletePlugin]{Validate: func(op *cassnetv1.DeletePlugin) error {
		return consensus.FirstError(consensus.ValidateName("tenant", op.GetTenant()), ValidateName(op.GetName()))
	}, Apply: s.delete, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RecordPluginFailure]{Validate: validateFailure, Apply: s.recordFailure, MinStateVersion: v})
}

// ValidateName checks a plugin name: what consensus.ValidateName accepts.
func ValidateName(name string) error { return consensus.ValidateName("name", name) }

// ValidateConfig checks a plugin config: a JSON object of at most
// MaxConfigBytes.
func ValidateConfig(raw []byte) error {
	if len(raw) > MaxConfigBytes {
		return consensus.NewError(consensus.ErrInvalid, "config: at most %d bytes", MaxConfigBytes)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return consensus.NewError(consensus.ErrInvalid, "config: must be a JSON object")
	}
	return nil
}

// ValidatePut checks a PutPlugin without the state: names, sizes, the
// module's sha256 and that the manifest is a JSON object.
func ValidatePut(op *cassnetv1.PutPlugin) error {
	if err := consensus.FirstError(consensus.ValidateName("tenant", op.GetTenant()), ValidateName(op.GetName())); err != nil {
		return err
	}
	mod := op.GetModule()
	if len(mod) == 0 || len(mod) > MaxModuleBytes {
		return consensus.NewError(consensus.ErrInvalid, "module: must be 1 to %d bytes", MaxModuleBytes)
	}
	if sum := sha256.Sum256(mod); !bytes.Equal(sum[:], op.GetSha256()) {
		return consensus.NewError(consensus.ErrInvalid, "sha256: does not match the module")
	}
	m := op.GetManifestJson()
	var obj map[string]json.RawMessage
	if len(m) > MaxManifestBytes || json.Unmarshal([]byte(m), &obj) != nil || obj == nil {
		return consensus.NewError(consensus.ErrInvalid, "manifest: must be a JSON object of at most %d bytes", MaxManifestBytes)
	}
	return nil
}

func validateConfig(op *cassnetv1.SetPluginConfig) error {
	return consensus.FirstError(consensus.ValidateName("tenant", op.GetTenant()), ValidateName(op.GetName()),
		ValidateConfig([]byte(op.GetConfigJson())))
}

func validateFailure(op *cassnetv1.RecordPluginFailure) error {
	return consensus.FirstError(consensus.ValidateName("tenant", op.GetTenant()), ValidateName(op.GetName()),
		consensus.ValidateText("sha256_hex", op.GetSha256Hex(), 64), consensus.ValidateText("hook", op.GetHook(), 64),
		consensus.ValidateText("kind", op.GetKind(), 32), consensus.ValidateText("message", op.GetMessage(), maxFailureMessage),
		consensus.ValidateText("node", op.GetNode(), 128))
}

func (s *Store) put(tx *consensus.Tx, op *cassnetv1.PutPlugin) error {
	if !s.tenancy.TenantExists(tx, op.GetTenant()) {
		return consensus.NewError(consensus.ErrNotFound, "tenant %q", op.GetTenant())
	}
	w := s.write(tx)
	old, _ := w.plugins.Get(table.Key(op.GetTenant(), op.GetName()))
	if n, _ := w.counts.Get(op.GetTenant()); old == nil && n >= MaxPluginsPerTenant {
		return consensus.NewError(consensus.ErrInvalid, "tenant %q already has %d plugins", op.GetTenant(), MaxPluginsPerTenant)
	}
	p := &Plugin{
		Tenant: op.GetTenant(), Name: op.GetName(), SHA256: hex.EncodeToString(op.GetSha256()),
		Size: len(op.GetModule()), Manifest: json.RawMessage(op.GetManifestJson()), Config: json.RawMessage("{}"),
		FailOpen: op.GetFailOpen(), CreatedAt: tx.Time, UpdatedAt: tx.Time, UpdatedBy: tx.Actor,
	}
	if old != nil {
		p.Config, p.CreatedAt = old.Config, old.CreatedAt
	}
	w.put(old, p, op.GetModule())
	tx.Emit(consensus.Event{Action: "plugin.put", Tenant: p.Tenant, Target: p.Name, Detail: "sha256 " + p.SHA256,
		Data: map[string]string{"plugin": p.Name, "sha256": p.SHA256, "size": strconv.Itoa(p.Size)}})
	return nil
}

func (s *Store) setConfig(tx *consensus.Tx, op *cassnetv1.SetPluginConfig) error {
	w := s.write(tx)
	old, ok := w.plugins.Get(table.Key(op.GetTenant(), op.GetName()))
	if !ok {
		return consensus.NewError(consensus.ErrNotFound, "plugin %q in tenant %q", op.GetName(), op.GetTenant())
	}
	p := *old
	p.Config, p.UpdatedAt, p.UpdatedBy = json.RawMessage(op.GetConfigJson()), tx.Time, tx.Actor
	w.put(old, &p, nil)
	tx.Emit(consensus.Event{Action: "plugin.config", Tenant: p.Tenant, Target: p.Name,
		Data: map[string]string{"plugin": p.Name}})
	return nil
}

func (s *Store) delete(tx *consensus.Tx, op *cassnetv1.DeletePlugin) error {
	w := s.write(tx)
	old, ok := w.plugins.Get(table.Key(op.GetTenant(), op.GetName()))
	if !ok {
		return consensus.NewError(consensus.ErrNotFound, "plugin %q in tenant %q", op.GetName(), op.GetTenant())
	}
	w.remove(old)
	tx.Emit(consensus.Event{Action: "plugin.delete", Tenant: old.Tenant, Target: old.Name,
		Data: map[string]string{"plugin": old.Name, "sha256": old.SHA256}})
	return nil
}

// recordFailure stores nothing: it emits the plugin.failed event, which
// the audit log keeps and the webhook outbox delivers.
func (s *Store) recordFailure(tx *consensus.Tx, op *cassnetv1.RecordPluginFailure) error {
	if !s.tenancy.TenantExists(tx, op.GetTenant()) {
		return consensus.NewError(consensus.ErrNotFound, "tenant %q", op.GetTenant())
	}
	tx.Emit(consensus.Event{Action: EventFailed, Tenant: op.GetTenant(), Target: op.GetName(),
		Detail: op.GetKind() + " in " + op.GetHook() + ": " + op.GetMessage(),
		Data: map[string]string{
			"plugin": op.GetName(), "sha256": op.GetSha256Hex(), "hook": op.GetHook(), "kind": op.GetKind(),
			"message": op.GetMessage(), "count": strconv.FormatUint(uint64(op.GetCount()), 10), "node": op.GetNode(),
		}})
	return nil
}

// DropTenant implements consensus.TenantDropper.
func (s *Store) DropTenant(tx *consensus.Tx, tenant string) {
	w := s.write(tx)
	var gone []*Plugin
	w.plugins.Walk(table.Prefix(tenant), func(_ string, p *Plugin) bool { gone = append(gone, p); return true })
	for _, p := range gone {
		w.remove(p)
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

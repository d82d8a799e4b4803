package plugins

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/table"
)

// Read accessors. Each reads one immutable version. Plugin values are
// copies; module bytes are shared and must not be changed.

// View is one immutable version of the registry, for a reader (the
// runtime) that needs several answers from the same version.
type View struct{ d *data }

// View returns the committed version.
func (s *Store) View() View { return View{s.cur.Load()} }

// Changed is closed once a newer version than v has been committed.
func (v View) Changed() <-chan struct{} { return v.d.changed }

// All returns every plugin of every tenant, by tenant then name.
func (v View) All() []Plugin {
	out := make([]Plugin, 0, v.d.plugins.Len())
	v.d.plugins.Each("", func(p *Plugin) bool { out = append(out, clone(p)); return true })
	return out
}

// Tenant returns the tenant's plugins, by name.
func (v View) Tenant(tenant string) []Plugin {
	var out []Plugin
	v.d.plugins.Each(table.Prefix(tenant), func(p *Plugin) bool { out = append(out, clone(p)); return true })
	return out
}

// Module returns the module bytes whose hex sha256 is sum. The bytes are
// shared: callers must not change them.
func (v View) Module(sum string) ([]byte, bool) {
	b, ok := v.d.blobs.Get(sum)
	if !ok {
		return nil, false
	}
	return b.Module, true
}

// Plugins returns the tenant's plugins, by name.
func (s *Store) Plugins(tenant string) []Plugin { return s.View().Tenant(tenant) }

// Plugin returns one plugin of a tenant.
func (s *Store) Plugin(tenant, name string) (Plugin, bool) {
	p, ok := s.cur.Load().plugins.Get(table.Key(tenant, name))
	if !ok {
		return Plugin{}, false
	}
	return clone(p), true
}

// Module returns the module bytes whose hex sha256 is sum (shared: do not
// change them).
func (s *Store) Module(sum string) ([]byte, bool) { return s.View().Module(sum) }

func clone(p *Plugin) Plugin {
	c := *p
	c.Manifest = slices.Clone(p.Manifest)
	c.Config = slices.Clone(p.Config)
	return c
}

// Snapshot implements consensus.Module.
func (s *Store) Snapshot() consensus.Section { return section{s.cur.Load()} }

type section struct{ d *data }

func (c section) empty() bool { return c.d.plugins.Len() == 0 && c.d.blobs.Len() == 0 }

// Hash writes the plugins and the sha256 of each stored module (the
// bytes are covered by their sha256, which PutPlugin's Validate checked).
func (c section) Hash(e *consensus.HashEncoder) {
	if c.empty() {
		return
	}
	e.Section("plugins", c.d.plugins.Len())
	c.d.plugins.Each("", func(p *Plugin) bool {
		e.Str(p.Tenant)
		e.Str(p.Name)
		e.Str(p.SHA256)
		e.U64(uint64(p.Size))
		e.Bytes(p.Manifest)
		e.Bytes(p.Config)
		if p.FailOpen {
			e.U64(1)
		} else {
			e.U64(0)
		}
		e.Time(p.CreatedAt)
		e.Time(p.UpdatedAt)
		e.Str(p.UpdatedBy)
		return true
	})
	e.Section("modules", c.d.blobs.Len())
	c.d.blobs.Each("", func(b *blob) bool { e.Str(b.SHA256); return true })
}

func (c section) Write(w *consensus.SectionWriter) error {
	if c.empty() {
		return nil
	}
	if err := consensus.WriteList(w, "plugins", c.d.plugins.Values("")); err != nil {
		return err
	}
	return consensus.WriteList(w, "modules", c.d.blobs.Values(""))
}

func (c section) Counts() map[string]int {
	return map[string]int{"plugins": c.d.plugins.Len(), "modules": c.d.blobs.Len()}
}

// Restore implements consensus.Module. Modules are checked against their
// sha256, and every plugin must name a stored module of the right size.
func (s *Store) Restore(tx *consensus.Tx, src consensus.SectionSource) error {
	var (
		list  []*Plugin
		blobs []*blob
	)
	if err := consensus.FirstError(src.Decode("plugins", &list), src.Decode("modules", &blobs)); err != nil {
		return err
	}
	w := tx.Stage(s, func() consensus.Pending { return s.begin(&data{}) }).(*write)
	mods := map[string][]byte{}
	for _, b := range blobs {
		if sum := sha256Hex(b.Module); sum != b.SHA256 {
			return fmt.Errorf("module %q: sha256 does not match", b.SHA256)
		}
		mods[b.SHA256] = b.Module
	}
	for _, p := range list {
		if !s.tenancy.TenantExists(tx, p.Tenant) {
			return fmt.Errorf("plugin %q: unknown tenant %q", p.Name, p.Tenant)
		}
		mod, ok := mods[p.SHA256]
		if _, dup := w.plugins.Get(table.Key(p.Tenant, p.Name)); dup || !ok || len(mod) != p.Size || !json.Valid(p.Manifest) || !json.Valid(p.Config) {
			return fmt.Errorf("plugin %q in tenant %q: duplicate, malformed or its module is missing", p.Name, p.Tenant)
		}
		p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
		w.put(nil, p, mod)
	}
	return nil
}

func sha256Hex(b []byte) string {
	sum := sha256Sum(b)
	return hex.EncodeToString(sum[:])
}

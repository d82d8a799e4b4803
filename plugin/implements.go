package plugin

import (
	"context"

	"github.com/cassandranet/cassnet/hooks"
)

var _ hooks.Implementer = (*Runtime)(nil)

// Implements implements hooks.Implementer: whether some plugin of tenant
// names hook in its manifest. A plugin whose module cannot be loaded
// counts (Before then applies its fail_open setting).
func (r *Runtime) Implements(ctx context.Context, tenant, hook string) bool {
	view := r.cfg.Source.View()
	for _, p := range view.Tenant(tenant) {
		v, err := r.version(ctx, view, p)
		if err != nil || v.c.manifest.Has(hook) {
			return true
		}
	}
	return false
}

// Package state assembles the domain modules whose replicated state the
// consensus engine applies, in their one fixed order. It is the table of
// contents, in the spirit of Consul's FSM registering each request type:
// adding a domain means adding its package and one line here.
//
// It owns no state and no logic of its own; each domain's truth is in its
// own package (state/tenancy, state/bans, ...). See DESIGN.md.
package state

import (
	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/audit"
	"github.com/cassandranet/cassnet/state/bans"
	"github.com/cassandranet/cassnet/state/cluster"
	"github.com/cassandranet/cassnet/state/identity"
	"github.com/cassandranet/cassnet/state/operators"
	"github.com/cassandranet/cassnet/state/servers"
	"github.com/cassandranet/cassnet/state/settings"
	"github.com/cassandranet/cassnet/state/tenancy"
	"github.com/cassandranet/cassnet/state/webhooks"

	"github.com/cassandranet/cassnet/state/ugc"
)

// Domains holds one node's domain modules. The API and the node read each
// domain through its own field; the FSM applies them through Modules.
type Domains struct {
	Tenancy   *tenancy.Store
	Bans      *bans.Store
	Operators *operators.Store
	Settings  *settings.Store
	Audit     *audit.Store
	Identity  *identity.Store
	Cluster   *cluster.Store
	Servers   *servers.Store
	Webhooks  *webhooks.Store

	UGC *ugc.Store
}

// New returns every domain, empty.
func New() *Domains {
	ten := tenancy.New()
	set := settings.New()
	return &Domains{
		Tenancy:   ten,
		Bans:      bans.New(ten, set),
		Operators: operators.New(),
		Settings:  set,
		Audit:     audit.New(set),
		Identity:  identity.New(ten, set),
		Cluster:   cluster.New(),
		Servers:   servers.New(ten),
		Webhooks:  webhooks.New(ten),

		UGC: ugc.New(ten),
	}
}

// Modules returns the modules in their fixed order. The order is part of
// the state hash and of the snapshot, and restore depends on it (tenancy
// before the modules that check tenants, settings before audit): never
// reorder it; append new domains at the end.
func (d *Domains) Modules() []consensus.Module {
	return []consensus.Module{d.Tenancy, d.Bans, d.Operators, d.Settings, d.Audit, d.Identity, d.Cluster, d.Servers, d.Webhooks, d.UGC}
}

// Package hooks is the seam between the request paths (REST handlers on
// whichever node takes a request) and the add-ons that may veto, amend or
// observe them (Wasm plugins, see package plugin). It owns only the
// interface and the no-op Runner; it must not import the API, the state or
// any plugin runtime.
//
// Hooks run on the node that takes the request, before the Raft write and
// never inside Apply: a hook's answer is an input to the command the node
// proposes, so replicas never run plugins and stay deterministic.
package hooks

import (
	"context"
	"errors"
	"fmt"
)

// Names of the hooks the request paths call. A before-hook may reject or
// amend the request; an after-hook sees the request and the result.
const (
	BeforeBanCreate     = "before_ban_create"
	AfterBanCreate      = "after_ban_create"
	BeforeSessionCreate = "before_session_create"
	AfterSessionCreate  = "after_session_create"
	BeforeUGCItemCreate = "before_ugc_item_create"
	AfterUGCItemCreate  = "after_ugc_item_create"
	BeforeAllocation    = "before_allocation"
	AfterAllocation     = "after_allocation"
	// ScoreAllocation is a before-hook with its own request: the node's
	// candidate servers for an allocation, which the hook may reorder or
	// filter (docs/addons.md). Its answer is advisory: Apply re-checks
	// every preferred server.
	ScoreAllocation = "score_allocation"
)

// Implementer is implemented by runners that can say cheaply whether a
// tenant has a hook at all, so a request path can skip preparing an
// expensive hook request (score_allocation's candidate list).
//
// Concurrency: as Runner.
type Implementer interface {
	// Implements reports whether some add-on of tenant may run hook. It
	// may answer true when unsure (a module not loaded yet); Before then
	// decides.
	Implements(ctx context.Context, tenant, hook string) bool
}

// Caller is the authenticated identity a request carries, as a hook sees it.
type Caller struct {
	Tenant  string `json:"tenant"`
	Project string `json:"project,omitempty"`
	// Kind is "operator", "api_key" or "player".
	Kind string `json:"kind"`
	// ID is the key id, the operator token id or the player id.
	ID   string `json:"id"`
	Role string `json:"role,omitempty"`
}

// Runner runs the hooks a tenant's add-ons implement.
//
// Concurrency: every method may be called from any number of goroutines at
// once (one per request). Calls must honour ctx: when it is done the call
// returns promptly with an error.
type Runner interface {
	// Before runs the before-hooks named hook for caller.Tenant, in a fixed
	// order, each seeing the request the previous one returned. It returns
	// the request to use (req itself when no hook amended it). A *Rejection
	// error means a hook refused the request; any other error means a hook
	// failed and the caller must refuse the request (hooks fail closed
	// unless the runner was told otherwise).
	Before(ctx context.Context, hook string, caller Caller, req []byte) ([]byte, error)
	// After runs the after-hooks named hook with the request and the
	// result. Its failures are recorded by the runner, never returned: the
	// change has already been made.
	After(ctx context.Context, hook string, caller Caller, req, result []byte)
}

// Rejection is a hook's refusal, shown to the client as a JSON 4xx.
type Rejection struct {
	Plugin string
	// Status is the HTTP status to answer, 400-499; zero means 400.
	Status  int
	Message string
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("rejected by plugin %s: %s", r.Plugin, r.Message)
}

// Noop is a Runner with no hooks: Before answers req unchanged.
type Noop struct{}

// Before implements Runner.
func (Noop) Before(_ context.Context, _ string, _ Caller, req []byte) ([]byte, error) {
	return req, nil
}

// After implements Runner.
func (Noop) After(context.Context, string, Caller, []byte, []byte) {}

// RPCs is implemented by runners that also serve custom RPCs (Nakama's
// RPCs): POST /v1/tenants/{tenant}/rpc/{name}.
//
// Concurrency: as Runner.
type RPCs interface {
	// RPC calls the RPC name of caller.Tenant's plugins with the JSON
	// payload and returns the JSON result. ErrNoRPC means no plugin of
	// the tenant serves it; a *Rejection is the RPC's own error, for the
	// client; any other error is a failure of the plugin.
	RPC(ctx context.Context, caller Caller, name string, payload []byte) ([]byte, error)
}

// ErrNoRPC means no plugin serves the RPC asked for.
var ErrNoRPC = errors.New("no plugin serves this rpc")

// RPC implements RPCs: Noop serves none.
func (Noop) RPC(context.Context, Caller, string, []byte) ([]byte, error) { return nil, ErrNoRPC }

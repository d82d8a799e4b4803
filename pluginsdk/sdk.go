// Package pluginsdk is the Go SDK for CassandraNet Wasm plugins. It hides
// the ABI (docs/addons.md) behind three calls made from a plugin's init
// function:
//
//	func init() {
//		pluginsdk.Manifest("ban-policy", "1.0.0")
//		pluginsdk.Handle("before_ban_create", func(c pluginsdk.Call) pluginsdk.Result { ... })
//		pluginsdk.RPC("hello", func(c pluginsdk.Call) (any, error) { ... })
//	}
//	func main() {}
//
// and built with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
// The exports and imports live in abi_wasip1.go; everything here is plain
// Go, so a plugin's logic can be unit-tested on any platform with
// Dispatch.
//
// Concurrency: the host calls one instance at a time (a Go wasm instance
// is not re-entrant), so handlers need no locks; but several instances of
// the same plugin run at once and share nothing, so a handler must not
// rely on global state surviving between calls.
package pluginsdk

import (
	"encoding/json"
	"errors"
	"strings"
)

// Caller is the authenticated identity of the request, as the host saw it.
type Caller struct {
	Tenant  string `json:"tenant"`
	Project string `json:"project,omitempty"`
	// Kind is "operator", "api_key" or "player".
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Role string `json:"role,omitempty"`
}

// Call is one hook or RPC invocation.
type Call struct {
	// Hook is the hook's name, or "rpc:<name>" for an RPC.
	Hook   string          `json:"hook"`
	Caller Caller          `json:"caller"`
	Config json.RawMessage `json:"config"`
	// Request is the request (hooks) or the payload (RPCs), as JSON.
	Request json.RawMessage `json:"request"`
	// Result is the outcome an after-hook sees, as JSON; empty otherwise.
	Result json.RawMessage `json:"result,omitempty"`
}

// Decode unmarshals the request into v.
func (c Call) Decode(v any) error { return json.Unmarshal(c.Request, v) }

// DecodeConfig unmarshals the plugin's config into v.
func (c Call) DecodeConfig(v any) error {
	if len(c.Config) == 0 {
		return nil
	}
	return json.Unmarshal(c.Config, v)
}

// Result is a hook's answer.
type Result struct {
	// Action is "allow", "reject" or "amend".
	Action string `json:"action"`
	// Status is the HTTP status of a rejection, 400-499 (default 400).
	Status  int    `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	// Request replaces the request when Action is "amend".
	Request json.RawMessage `json:"request,omitempty"`
}

// Allow lets the request through unchanged.
func Allow() Result { return Result{Action: "allow"} }

// Reject refuses the request with status (400-499) and message, which the
// client sees.
func Reject(status int, message string) Result {
	return Result{Action: "reject", Status: status, Message: message}
}

// Amend lets the request through as req (marshalled to JSON).
func Amend(req any) Result {
	b, err := json.Marshal(req)
	if err != nil {
		return Reject(400, "plugin could not encode the amended request")
	}
	return Result{Action: "amend", Request: b}
}

type rpcResult struct {
	Result any    `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

type manifest struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Hooks   []string `json:"hooks"`
	RPCs    []string `json:"rpcs"`
}

// registry is the plugin's one set of handlers: a wasm instance is one
// plugin, so this is the only package-level state and is written only
// from init functions.
var registry = struct {
	m     manifest
	hooks map[string]func(Call) Result
	rpcs  map[string]func(Call) (any, error)
}{hooks: map[string]func(Call) Result{}, rpcs: map[string]func(Call) (any, error){}}

// Manifest names the plugin and its version.
func Manifest(name, version string) { registry.m.Name, registry.m.Version = name, version }

// Handle registers fn for hook (e.g. "before_ban_create").
func Handle(hook string, fn func(Call) Result) {
	if _, ok := registry.hooks[hook]; !ok {
		registry.m.Hooks = append(registry.m.Hooks, hook)
	}
	registry.hooks[hook] = fn
}

// RPC registers fn as the RPC name, called by
// POST /v1/tenants/{tenant}/rpc/{name}. Its answer is marshalled to JSON;
// an error is answered to the client as a 400 with its message.
func RPC(name string, fn func(Call) (any, error)) {
	if _, ok := registry.rpcs[name]; !ok {
		registry.m.RPCs = append(registry.m.RPCs, name)
	}
	registry.rpcs[name] = fn
}

// ManifestJSON is what the cn_manifest export answers.
func ManifestJSON() []byte {
	m := registry.m
	if m.Hooks == nil {
		m.Hooks = []string{}
	}
	if m.RPCs == nil {
		m.RPCs = []string{}
	}
	b, _ := json.Marshal(m)
	return b
}

// Dispatch runs the handler for hook on the JSON input and returns the
// JSON output: what cn_call does. A panicking handler is answered as a
// failure (the host fails the call) rather than left to trap.
func Dispatch(hook string, input []byte) (out []byte) {
	defer func() {
		if r := recover(); r != nil {
			out = []byte(`{"action":"error","message":"plugin panicked"}`)
		}
	}()
	var c Call
	if err := json.Unmarshal(input, &c); err != nil {
		return errorJSON(err)
	}
	if name, ok := strings.CutPrefix(hook, "rpc:"); ok {
		fn, ok := registry.rpcs[name]
		if !ok {
			return mustJSON(rpcResult{Error: "no such rpc"})
		}
		v, err := fn(c)
		if err != nil {
			return mustJSON(rpcResult{Error: err.Error()})
		}
		if v == nil {
			v = json.RawMessage("null")
		}
		return mustJSON(rpcResult{Result: v})
	}
	fn, ok := registry.hooks[hook]
	if !ok {
		return mustJSON(Allow())
	}
	return mustJSON(fn(c))
}

func errorJSON(err error) []byte {
	return mustJSON(struct {
		Action  string `json:"action"`
		Message string `json:"message"`
	}{"error", err.Error()})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return errorJSON(errors.New("plugin could not encode its answer"))
	}
	return b
}

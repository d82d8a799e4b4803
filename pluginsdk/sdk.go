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
// Cost: the host hands a hook its name, caller, config and request as
// separate buffers (ABI 2), and the SDK decodes none of them unless the
// handler asks: Decode and DecodeConfig use encoding/json, which is slow
// inside wasm (about 100 µs for a small request), while Field, String
// and Int read one top-level field with a small scanner (a few µs).
// Answers from Allow, Reject and Amend are encoded without reflection.
//
// Concurrency: the host calls one instance at a time (a Go wasm instance
// is not re-entrant), so handlers need no locks; but several instances of
// the same plugin run at once and share nothing, so a handler must not
// rely on global state surviving between calls.
package pluginsdk

import (
	"encoding/json"
	"strconv"
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

// Call is one hook or RPC invocation. Its Config, Request and Result
// are views of the host's input buffer, valid until the handler returns:
// copy them to keep them.
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

// parseCaller reads the caller as cn_hook receives it: tenant, project,
// kind, id and role separated by NUL bytes.
func parseCaller(b []byte) Caller {
	var f [5]string
	for i := range f {
		j := 0
		for j < len(b) && b[j] != 0 {
			j++
		}
		f[i] = string(b[:j])
		if j == len(b) {
			break
		}
		b = b[j+1:]
	}
	return Caller{Tenant: f[0], Project: f[1], Kind: f[2], ID: f[3], Role: f[4]}
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

// Field returns the raw JSON value of the request's top-level field
// name (for a string, with its quotes), or false.
func (c Call) Field(name string) ([]byte, bool) { return Get(c.Request, name) }

// String returns the request's top-level string field name, or false if
// it is absent or not a string.
func (c Call) String(name string) (string, bool) {
	v, ok := Get(c.Request, name)
	if !ok {
		return "", false
	}
	return Str(v)
}

// Int returns the request's top-level integer field name, or false if
// it is absent or not an integer.
func (c Call) Int(name string) (int64, bool) {
	v, ok := Get(c.Request, name)
	if !ok {
		return 0, false
	}
	return Int(v)
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

// AmendRaw lets the request through as req, a JSON object the handler
// encoded itself (the host checks it).
func AmendRaw(req []byte) Result { return Result{Action: "amend", Request: req} }

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

// Dispatch runs the handler for hook on an input of ABI 1 (one JSON
// object with hook, caller, config, request and result) and returns the
// JSON answer: what cn_call does, and the way to unit-test a plugin's
// logic on any platform. A panicking handler is answered as a failure
// (the host fails the call) rather than left to trap.
func Dispatch(hook string, input []byte) []byte {
	var c Call
	if err := json.Unmarshal(input, &c); err != nil {
		return errorJSON(nil, err.Error())
	}
	c.Hook = hook
	return DispatchCall(c, nil)
}

// DispatchCall runs the handler for c.Hook and appends its JSON answer
// to out: what cn_hook does.
func DispatchCall(c Call, out []byte) (res []byte) {
	defer func() {
		if r := recover(); r != nil {
			res = append(out[:0], `{"action":"error","message":"plugin panicked"}`...)
		}
	}()
	if name, ok := strings.CutPrefix(c.Hook, "rpc:"); ok {
		fn, ok := registry.rpcs[name]
		if !ok {
			return mustJSON(out, rpcResult{Error: "no such rpc"})
		}
		v, err := fn(c)
		if err != nil {
			return mustJSON(out, rpcResult{Error: err.Error()})
		}
		if v == nil {
			v = json.RawMessage("null")
		}
		return mustJSON(out, rpcResult{Result: v})
	}
	fn, ok := registry.hooks[c.Hook]
	if !ok {
		return appendResult(out, Allow())
	}
	return appendResult(out, fn(c))
}

// appendResult encodes r without reflection.
func appendResult(b []byte, r Result) []byte {
	b = append(b, `{"action":`...)
	b = appendQuote(b, r.Action)
	if r.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(r.Status), 10)
	}
	if r.Message != "" {
		b = append(b, `,"message":`...)
		b = appendQuote(b, r.Message)
	}
	if len(r.Request) > 0 {
		b = append(b, `,"request":`...)
		b = append(b, r.Request...)
	}
	return append(b, '}')
}

func errorJSON(b []byte, msg string) []byte {
	return appendResult(b[:0], Result{Action: "error", Message: msg})
}

func mustJSON(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		return errorJSON(b, "plugin could not encode its answer")
	}
	return append(b[:0], j...)
}

package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cassandranet/cassnet/hooks"
)

// The ABI a module implements (docs/addons.md), version 2:
//
//	cn_alloc(size i32) -> ptr i32                    a buffer the host writes into
//	cn_manifest() -> i64                             ptr<<32 | len of the manifest JSON
//	cn_hook(hook_ptr, hook_len, caller_ptr, caller_len, config_ptr, config_len,
//	        req_ptr, req_len, result_ptr, result_len i32) -> i64   ptr<<32 | len of the answer JSON
//
// The caller is its five fields (tenant, project, kind, id, role)
// separated by NUL bytes; config, request and result are JSON (result
// empty except for after-hooks). The host calls cn_alloc once per call
// and writes the five parts there back to back. A module of version 1
// exports cn_call(hook_ptr, hook_len, in_ptr, in_len) instead, whose
// input is one JSON object; the host still runs those.
//
// and may import, from module "cassnet":
//
//	log(level i32, ptr i32, len i32)
//	now_unix_nano() -> i64
//
// plus wasi_snapshot_preview1 (with no filesystem, no sockets and no
// arguments or environment).

// Export and import names.
const (
	exportAlloc    = "cn_alloc"
	exportManifest = "cn_manifest"
	exportCall     = "cn_call"
	exportHook     = "cn_hook"
	hostModule     = "cassnet"
)

// Limits on what crosses the boundary.
const (
	maxManifest   = 16 << 10
	maxOutput     = 1 << 20
	maxAmended    = 64 << 10
	maxMessage    = 1024
	maxHooks      = 32
	maxRPCs       = 64
	maxNameLength = 64
)

// Manifest is what a module says about itself.
type Manifest struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Hooks   []string `json:"hooks"`
	RPCs    []string `json:"rpcs"`
}

// KnownHooks are the hooks a manifest may name.
var KnownHooks = []string{
	hooks.BeforeBanCreate, hooks.AfterBanCreate, hooks.BeforeSessionCreate, hooks.AfterSessionCreate,
	hooks.BeforeUGCItemCreate, hooks.AfterUGCItemCreate, hooks.BeforeAllocation, hooks.AfterAllocation,
	hooks.ScoreAllocation,
}

// ParseManifest decodes and validates a manifest: a JSON object of at
// most 16 KiB; a name and version of printable text; only known hooks;
// RPC names of [a-z0-9_-] (1-64); no duplicates.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	if len(b) > maxManifest {
		return m, fmt.Errorf("manifest: larger than %d bytes", maxManifest)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	if dec.More() {
		return Manifest{}, errors.New("manifest: trailing data")
	}
	if err := checkText("name", m.Name, true); err != nil {
		return Manifest{}, err
	}
	if err := checkText("version", m.Version, false); err != nil {
		return Manifest{}, err
	}
	if len(m.Hooks) > maxHooks || len(m.RPCs) > maxRPCs {
		return Manifest{}, errors.New("manifest: too many hooks or rpcs")
	}
	for i, h := range m.Hooks {
		if !slices.Contains(KnownHooks, h) {
			return Manifest{}, fmt.Errorf("manifest: unknown hook %q", h)
		}
		if slices.Contains(m.Hooks[:i], h) {
			return Manifest{}, fmt.Errorf("manifest: hook %q twice", h)
		}
	}
	for i, r := range m.RPCs {
		if err := ValidateRPCName(r); err != nil {
			return Manifest{}, fmt.Errorf("manifest: %w", err)
		}
		if slices.Contains(m.RPCs[:i], r) {
			return Manifest{}, fmt.Errorf("manifest: rpc %q twice", r)
		}
	}
	if m.Hooks == nil {
		m.Hooks = []string{}
	}
	if m.RPCs == nil {
		m.RPCs = []string{}
	}
	return m, nil
}

// ValidateRPCName checks an RPC name: 1-64 of [a-z0-9_-].
func ValidateRPCName(s string) error {
	if s == "" || len(s) > maxNameLength {
		return fmt.Errorf("rpc name %q: must be 1 to %d characters", s, maxNameLength)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("rpc name %q: only a-z, 0-9, _ and -", s)
		}
	}
	return nil
}

func checkText(field, s string, required bool) error {
	if required && s == "" {
		return fmt.Errorf("manifest: %s is required", field)
	}
	if len(s) > maxNameLength || !utf8.ValidString(s) {
		return fmt.Errorf("manifest: %s must be valid UTF-8 of at most %d bytes", field, maxNameLength)
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("manifest: %s has a control character", field)
		}
	}
	return nil
}

// Has reports whether the manifest names hook.
func (m *Manifest) Has(hook string) bool { return slices.Contains(m.Hooks, hook) }

// HasRPC reports whether the manifest names the RPC.
func (m *Manifest) HasRPC(name string) bool { return slices.Contains(m.RPCs, name) }

// callInput is one call's five parts.
type callInput struct {
	hook                    string
	caller                  hooks.Caller
	config, request, result []byte
}

// frame appends the parts, back to back, to b: what cn_hook receives.
func (c *callInput) frame(b []byte) []byte {
	b = append(b, c.hook...)
	b = appendCaller(b, c.caller)
	b = append(b, c.config...)
	b = append(b, c.request...)
	return append(b, c.result...)
}

// lens are the parts' lengths in frame's order.
func (c *callInput) lens() [5]int {
	return [5]int{len(c.hook), callerLen(c.caller), len(c.config), len(c.request), len(c.result)}
}

// appendCaller appends tenant, project, kind, id and role separated by
// NUL bytes (dropping any NUL inside a field; none is valid in an id).
func appendCaller(b []byte, c hooks.Caller) []byte {
	for i, f := range [5]string{c.Tenant, c.Project, c.Kind, c.ID, c.Role} {
		if i > 0 {
			b = append(b, 0)
		}
		for j := 0; j < len(f); j++ {
			if f[j] != 0 {
				b = append(b, f[j])
			}
		}
	}
	return b
}

func callerLen(c hooks.Caller) int {
	n := 4
	for _, f := range [5]string{c.Tenant, c.Project, c.Kind, c.ID, c.Role} {
		n += len(f) - strings.Count(f, "\x00")
	}
	return n
}

// json is the ABI 1 input: one JSON object.
func (c *callInput) json() ([]byte, error) {
	b, err := json.Marshal(input{Hook: c.hook, Caller: c.caller, Config: c.config, Request: c.request, Result: c.result})
	if err != nil {
		return nil, fmt.Errorf("plugin: encode the input: %w", err)
	}
	return b, nil
}

// input is what cn_call receives (ABI 1).
type input struct {
	Hook    string          `json:"hook"`
	Caller  hooks.Caller    `json:"caller"`
	Config  json.RawMessage `json:"config"`
	Request json.RawMessage `json:"request"`
	Result  json.RawMessage `json:"result,omitempty"`
}

// Result is a hook's decoded answer.
type Result struct {
	Action  string          `json:"action"`
	Status  int             `json:"status"`
	Message string          `json:"message"`
	Request json.RawMessage `json:"request"`
}

// Actions.
const (
	ActionAllow  = "allow"
	ActionReject = "reject"
	ActionAmend  = "amend"
)

// errInvalidResult marks an answer the host cannot use.
var errInvalidResult = errors.New("invalid result")

// DecodeResult decodes and validates a hook's answer: action allow,
// reject or amend; a rejection's status 0 (meaning 400) or 400-499 and a
// message (truncated to 1 KiB of valid UTF-8); an amendment's request a
// JSON object of at most 64 KiB. Anything else is an error wrapping
// errInvalidResult, which fails the call.
func DecodeResult(b []byte) (Result, error) {
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, fmt.Errorf("%w: %v", errInvalidResult, err)
	}
	switch r.Action {
	case ActionAllow:
		return Result{Action: ActionAllow}, nil
	case ActionReject:
		if r.Status == 0 {
			r.Status = 400
		}
		if r.Status < 400 || r.Status > 499 {
			return Result{}, fmt.Errorf("%w: status %d is not 400-499", errInvalidResult, r.Status)
		}
		r.Message = cleanMessage(r.Message)
		r.Request = nil
		return r, nil
	case ActionAmend:
		var obj map[string]json.RawMessage
		if len(r.Request) > maxAmended || json.Unmarshal(r.Request, &obj) != nil || obj == nil {
			return Result{}, fmt.Errorf("%w: amend needs a request object of at most %d bytes", errInvalidResult, maxAmended)
		}
		return Result{Action: ActionAmend, Request: r.Request}, nil
	}
	if r.Action == "error" {
		return Result{}, fmt.Errorf("plugin error: %s", cleanMessage(r.Message))
	}
	return Result{}, fmt.Errorf("%w: unknown action %q", errInvalidResult, cleanMessage(r.Action))
}

// rpcOutput is an RPC's answer.
type rpcOutput struct {
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

// decodeRPC decodes an RPC's answer: the result (JSON, "null" when
// absent) or the error message the client sees.
func decodeRPC(b []byte) (json.RawMessage, string, error) {
	var o rpcOutput
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, "", fmt.Errorf("%w: %v", errInvalidResult, err)
	}
	if o.Error != "" {
		return nil, cleanMessage(o.Error), nil
	}
	if len(o.Result) == 0 {
		o.Result = json.RawMessage("null")
	}
	return o.Result, "", nil
}

// cleanMessage makes a plugin's text safe to keep: valid UTF-8, no
// control characters, at most 1 KiB. It is still hostile text: the API
// only ever writes it JSON-encoded.
func cleanMessage(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxMessage {
		s = s[:maxMessage]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

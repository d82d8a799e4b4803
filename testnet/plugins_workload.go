package testnet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/anishathalye/porcupine"
)

// PluginWorkloadName names the Wasm plugins workload (issue 15): replace
// a ban-policy plugin and its config, upload and delete a second plugin,
// and create bans that pass through the policy's before_ban_create hook.
const PluginWorkloadName = "plugins"

// PluginTenant is the plugins workload's tenant.
const PluginTenant = "chaos-plugins"

// The workload's two plugins: the policy is installed in Setup and never
// deleted (so every ban of the tenant goes through it); the extra one is
// uploaded and deleted.
const (
	PluginPolicy = "policy"
	PluginExtra  = "extra"
)

// Plugin operations.
const (
	PluginUpload = "upload"
	PluginConfig = "config"
	PluginDelete = "delete"
	PluginBan    = "ban"
)

// PluginInput is one operation: an upload (the plugin and the sha256 of
// the module sent), a config (the config sent), a delete, or a ban (its
// player; Short when its reason is shorter than the policy allows).
type PluginInput struct {
	Op     string `json:"op"`
	Plugin string `json:"plugin,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Config string `json:"config,omitempty"`
	Player string `json:"player,omitempty"`
	Short  bool   `json:"short,omitempty"`
}

// PluginOutput is its outcome (OutOK, OutFail, OutUnknown, ...) and the
// API's error code, if any (rejected_by_plugin).
type PluginOutput struct {
	Outcome string `json:"outcome"`
	Code    string `json:"code,omitempty"`
}

// PluginWorkload drives the plugins domain as a tenant admin. Mutations
// of one plugin are serialised (a client would not race itself), so the
// acknowledged ones are totally ordered (a worker that finds a plugin
// busy creates a ban instead); bans run concurrently with them.
// Safe for concurrent Steps.
type PluginWorkload struct {
	Tenant string
	// Policy and Extra are the modules (wasip1): the ban-policy and the
	// hello-rpc examples; Setup builds them when nil.
	Policy, Extra []byte

	mu      sync.Mutex
	nameMu  map[string]*sync.Mutex
	variant int
}

// Name implements Generator.
func (p *PluginWorkload) Name() string { return PluginWorkloadName }

// Model implements Generator: the plugins checker judges the history.
func (p *PluginWorkload) Model() *porcupine.Model { return nil }

// pluginAgentArgs: plugins interpreted (a module loads in a fraction of
// the compile time under -race), with a call limit generous for a busy
// machine.
var pluginAgentArgs = []string{"--plugin-interpreter", "--plugin-call-timeout", "2s", "--plugin-memory-mib", "32"}

// Setup implements Generator: the tenant, and the policy installed and
// loaded on every node before the first ban.
func (p *PluginWorkload) Setup(ctx context.Context, t *WorkTarget) error {
	if p.Tenant == "" {
		p.Tenant = PluginTenant
	}
	p.nameMu = map[string]*sync.Mutex{PluginPolicy: {}, PluginExtra: {}}
	var err error
	if p.Policy == nil {
		if p.Policy, err = BuildPlugin(ctx, "examples/plugins/ban-policy"); err != nil {
			return err
		}
	}
	if p.Extra == nil {
		if p.Extra, err = BuildPlugin(ctx, "examples/plugins/hello-rpc"); err != nil {
			return err
		}
	}
	if err := setupTenant(ctx, t, p.Tenant); err != nil {
		return err
	}
	addr := t.Nodes()[0].HTTPAddr()
	sum := sha256.Sum256(p.Policy)
	want := hex.EncodeToString(sum[:])
	return WaitFor(ctx, func() error {
		resp, err := p.upload(ctx, t.Client, addr, PluginPolicy, p.Policy)
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK && resp.Status != http.StatusCreated {
			return &StatusError{Status: resp.Status, Body: string(resp.Body)}
		}
		for _, n := range t.Nodes() {
			if r := ReadPlugin(ctx, t.Client, n, p.Tenant, PluginPolicy); r.SHA256 != want {
				return fmt.Errorf("policy not yet on %s: %+v", n.Name, r)
			}
		}
		return nil
	})
}

// BuildPlugin builds the plugin whose source is dir (relative to the
// module root) with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared.
func BuildPlugin(ctx context.Context, dir string) ([]byte, error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" {
		return nil, fmt.Errorf("plugins: find the module root: %v", err)
	}
	tmp, err := os.MkdirTemp("", "cassnet-plugin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "p.wasm")
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = filepath.Join(filepath.Dir(strings.TrimSpace(string(gomod))), dir)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("plugins: build %s: %w\n%s", dir, err, msg)
	}
	return os.ReadFile(out)
}

// WithCustomSection returns mod with a custom section (id 0) named name
// appended: a valid module that behaves the same, with another sha256.
// The section's data is one byte (wazero refuses an empty custom
// section at the end of a module).
func WithCustomSection(mod []byte, name string) []byte {
	payload := appendULEB(nil, uint64(len(name)))
	payload = append(payload, name...)
	payload = append(payload, 1)
	out := append(bytes.Clone(mod), 0)
	out = appendULEB(out, uint64(len(payload)))
	return append(out, payload...)
}

func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		if v >>= 7; v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func (p *PluginWorkload) base() string { return "/v1/tenants/" + p.Tenant + "/plugins/" }

func (p *PluginWorkload) upload(ctx context.Context, cl *Client, addr, name string, mod []byte) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+addr+p.base()+name, bytes.NewReader(mod))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/wasm")
	req.Header.Set("Authorization", "Bearer "+cl.Token)
	resp, err := cl.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	return &Response{Status: resp.StatusCode, Body: body.Bytes()}, nil
}

// Step implements Generator.
func (p *PluginWorkload) Step(ctx context.Context, w *Worker) {
	switch r := w.Rand.IntN(10); {
	case r < 4:
		p.ban(ctx, w)
	case r < 5:
		p.mutate(ctx, w, PluginInput{Op: PluginUpload, Plugin: PluginPolicy})
	case r < 7:
		p.mutate(ctx, w, PluginInput{Op: PluginConfig, Plugin: PluginPolicy,
			Config: fmt.Sprintf(`{"max_seconds":%d}`, 600*(1+w.Rand.IntN(10)))})
	case r < 9:
		p.mutate(ctx, w, PluginInput{Op: PluginUpload, Plugin: PluginExtra})
	default:
		p.mutate(ctx, w, PluginInput{Op: PluginDelete, Plugin: PluginExtra})
	}
}

// ban creates a ban of a fresh player: a third with a reason the policy
// refuses. Every ban is at most 300 s, under any cap the configs set.
func (p *PluginWorkload) ban(ctx context.Context, w *Worker) {
	p.mu.Lock()
	p.variant++
	player := fmt.Sprintf("pl-%d", p.variant)
	p.mu.Unlock()
	in := PluginInput{Op: PluginBan, Player: player, Short: w.Rand.IntN(3) == 0}
	reason := "caught by the chaos anti-cheat"
	if in.Short {
		reason = "afk"
	}
	call := w.Now()
	octx, cancel := context.WithTimeout(ctx, w.Target.OpTimeout)
	resp, err := w.Target.Client.Do(octx, http.MethodPost, w.Node().HTTPAddr(), "/v1/tenants/"+p.Tenant+"/bans",
		map[string]any{"player_id": player, "reason": reason, "duration_seconds": 300})
	cancel()
	p.record(w, in, call, resp, err)
}

// mutate uploads (a fresh variant of the module), configures or deletes
// a plugin, holding that plugin's lock; while another worker holds it
// (an upload of a 3 MiB module takes seconds under -race), it creates a
// ban instead.
func (p *PluginWorkload) mutate(ctx context.Context, w *Worker, in PluginInput) {
	mu := p.nameMu[in.Plugin]
	if !mu.TryLock() {
		p.ban(ctx, w)
		return
	}
	defer mu.Unlock()
	octx, cancel := context.WithTimeout(ctx, w.Target.OpTimeout)
	defer cancel()
	addr, path := w.Node().HTTPAddr(), p.base()+in.Plugin
	var resp *Response
	var err error
	call := w.Now()
	switch in.Op {
	case PluginUpload:
		p.mu.Lock()
		p.variant++
		v := p.variant
		p.mu.Unlock()
		mod := p.Extra
		if in.Plugin == PluginPolicy {
			mod = p.Policy
		}
		mod = WithCustomSection(mod, fmt.Sprintf("chaos-%d", v))
		sum := sha256.Sum256(mod)
		in.SHA256 = hex.EncodeToString(sum[:])
		call = w.Now()
		resp, err = p.upload(octx, w.Target.Client, addr, in.Plugin, mod)
	case PluginConfig:
		resp, err = w.Target.Client.Do(octx, http.MethodPut, addr, path+"/config", json.RawMessage(in.Config))
	case PluginDelete:
		resp, err = w.Target.Client.Do(octx, http.MethodDelete, addr, path, nil)
	}
	p.record(w, in, call, resp, err)
}

func (p *PluginWorkload) record(w *Worker, in PluginInput, call int64, resp *Response, err error) {
	out, detail := writeOutcome(resp, err)
	if err != nil && out == OutFail {
		// Never sent (the node is down): not recorded, and the worker
		// moves to another node rather than spinning on this one.
		w.Drop(PluginWorkloadName)
		return
	}
	o := PluginOutput{Outcome: out}
	if resp != nil && resp.Status >= 400 {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(resp.Body, &e)
		o.Code = e.Error.Code
	}
	w.Record(Entry{Workload: PluginWorkloadName, Input: in, Output: o, Call: call,
		Indeterminate: out == OutUnknown, Detail: detail})
}

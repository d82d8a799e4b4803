package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/hooks"
	"github.com/cassandranet/cassnet/plugin"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/plugins"
)

// codeInvalidPlugin: the module does not compile, lacks the ABI's
// exports, or its manifest is invalid.
const codeInvalidPlugin = "invalid_plugin"

// maxRPCBody bounds an RPC's payload.
const maxRPCBody = 64 << 10

// pluginView is a plugin as the API shows it: the registry record, not
// the module bytes.
type pluginView = plugins.Plugin

// handlePutPlugin installs or replaces a plugin: the body is the module
// (Content-Type application/wasm, at most 8 MiB). This node compiles it
// and reads its manifest before proposing, so a module that does not
// load never enters the log. ?fail_open=true lets requests through when
// the plugin's before-hooks fail.
func (s *Server) handlePutPlugin(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, name := r.PathValue("tenant"), r.PathValue("name")
	if err := plugins.ValidateName(name); err != nil {
		s.fail(w, r, err)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/wasm" {
		s.fail(w, r, errorf(http.StatusUnsupportedMediaType, codeUnsupportedMedia, "Content-Type must be application/wasm"))
		return
	}
	failOpen := false
	if v, ok := queryValue(r.URL.RawQuery, "fail_open"); ok {
		var err error
		if failOpen, err = strconv.ParseBool(v); err != nil {
			s.fail(w, r, badRequest("fail_open: must be true or false"))
			return
		}
	}
	if r.ContentLength > plugins.MaxModuleBytes {
		s.fail(w, r, tooLarge(plugins.MaxModuleBytes))
		return
	}
	mod, err := io.ReadAll(http.MaxBytesReader(w, r.Body, plugins.MaxModuleBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fail(w, r, tooLarge(plugins.MaxModuleBytes))
			return
		}
		s.fail(w, r, badRequest("could not read the module"))
		return
	}
	if len(mod) == 0 {
		s.fail(w, r, badRequest("the body must be the WebAssembly module"))
		return
	}
	if _, ok := s.state.Tenancy.Tenant(tenant); !ok {
		s.fail(w, r, notFound("tenant %q not found", tenant))
		return
	}
	if s.plugins == nil {
		s.fail(w, r, errorf(http.StatusServiceUnavailable, codeNotReady, "plugins are not enabled on this node"))
		return
	}
	sum := sha256.Sum256(mod)
	manifest, err := s.plugins.Inspect(r.Context(), hex.EncodeToString(sum[:]), mod)
	if err != nil {
		s.log.Info("plugin upload refused", "tenant", tenant, "plugin", name, "err", err)
		s.fail(w, r, errorf(http.StatusUnprocessableEntity, codeInvalidPlugin,
			"the module does not load as a plugin (it must be a wasip1 module exporting cn_alloc, cn_manifest and cn_hook (or cn_call), with a valid manifest; see docs/addons.md)"))
		return
	}
	mj, err := json.Marshal(manifest)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	_, existed := s.state.Plugins.Plugin(tenant, name)
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_PutPlugin{PutPlugin: &cassnetv1.PutPlugin{
		Tenant: tenant, Name: name, Module: mod, Sha256: sum[:], ManifestJson: string(mj), FailOpen: failOpen,
	}}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.answerPlugin(w, r, idx, tenant, name, map[bool]int{true: http.StatusOK, false: http.StatusCreated}[existed])
}

func (s *Server) answerPlugin(w http.ResponseWriter, r *http.Request, idx uint64, tenant, name string, status int) {
	pl, ok := s.state.Plugins.Plugin(tenant, name)
	if !ok {
		s.fail(w, r, notFound("plugin %q no longer exists", name))
		return
	}
	setIndexHeader(w, idx)
	w.Header().Set("Location", "/v1/tenants/"+tenant+"/plugins/"+name)
	writeJSON(w, status, pluginView(pl))
}

func (s *Server) handleListPlugins(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Default, true) {
		return
	}
	tenant := r.PathValue("tenant")
	if _, ok := s.state.Tenancy.Tenant(tenant); !ok {
		s.fail(w, r, notFound("tenant %q not found", tenant))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Plugins []pluginView `json:"plugins"`
	}{nonNil(s.state.Plugins.Plugins(tenant))})
}

// handleGetPlugin answers the plugin's record (manifest, config, sha256),
// or with ?download=1 the module itself.
func (s *Server) handleGetPlugin(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	tenant, name := r.PathValue("tenant"), r.PathValue("name")
	pl, ok := s.state.Plugins.Plugin(tenant, name)
	if !ok {
		s.fail(w, r, notFound("plugin %q not found in tenant %q", name, tenant))
		return
	}
	if v, _ := queryValue(r.URL.RawQuery, "download"); v == "1" || v == "true" {
		mod, ok := s.state.Plugins.Module(pl.SHA256)
		if !ok {
			s.fail(w, r, notFound("plugin %q has no module", name))
			return
		}
		w.Header().Set("Content-Type", "application/wasm")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.wasm"`)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(mod)
		return
	}
	writeJSON(w, http.StatusOK, pluginView(pl))
}

func (s *Server) handleDeletePlugin(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, name := r.PathValue("tenant"), r.PathValue("name")
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_DeletePlugin{DeletePlugin: &cassnetv1.DeletePlugin{
		Tenant: tenant, Name: name}}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	w.WriteHeader(http.StatusNoContent)
}

// handlePutPluginConfig replaces a plugin's config: a JSON object of at
// most 64 KiB, passed to every call of the plugin.
func (s *Server) handlePutPluginConfig(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, name := r.PathValue("tenant"), r.PathValue("name")
	var cfg json.RawMessage
	if err := decodeJSON(w, r, plugins.MaxConfigBytes, &cfg); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := plugins.ValidateConfig(cfg); err != nil {
		s.fail(w, r, err)
		return
	}
	compact, err := compactJSON(cfg)
	if err != nil {
		s.fail(w, r, badRequest("config: must be a JSON object"))
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_SetPluginConfig{SetPluginConfig: &cassnetv1.SetPluginConfig{
		Tenant: tenant, Name: name, ConfigJson: compact}}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.answerPlugin(w, r, idx, tenant, name, http.StatusOK)
}

func compactJSON(raw []byte) (string, error) {
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// handleRPC calls a plugin RPC with the caller's identity: the body is
// any JSON value of at most 64 KiB, and the answer is the RPC's result.
// An RPC's own error is a 400 rejected_by_plugin; no such RPC is a 404.
func (s *Server) handleRPC(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, name := r.PathValue("tenant"), r.PathValue("name")
	if err := plugin.ValidateRPCName(name); err != nil {
		s.fail(w, r, badRequest("%v", err))
		return
	}
	var payload json.RawMessage
	if err := decodeJSON(w, r, maxRPCBody, &payload); err != nil {
		s.fail(w, r, err)
		return
	}
	rpcs, ok := s.hooks.(hooks.RPCs)
	if !ok {
		s.fail(w, r, notFound("no plugin of tenant %q serves rpc %q", tenant, name))
		return
	}
	if _, ok := s.state.Tenancy.Tenant(tenant); !ok {
		s.fail(w, r, notFound("tenant %q not found", tenant))
		return
	}
	out, err := rpcs.RPC(r.Context(), p.hookCaller(tenant), name, payload)
	if errors.Is(err, hooks.ErrNoRPC) {
		s.fail(w, r, notFound("no plugin of tenant %q serves rpc %q", tenant, name))
		return
	}
	if err != nil {
		s.fail(w, r, hookError(r.Context(), err))
		return
	}
	if !json.Valid(out) {
		s.fail(w, r, errorf(http.StatusBadGateway, codePluginFailed, "the rpc answered something that is not JSON"))
		return
	}
	// The plugin's text is hostile: <, > and & are escaped as in every
	// other answer.
	var buf bytes.Buffer
	json.HTMLEscape(&buf, out)
	buf.WriteByte('\n')
	w.Header().Set("Cache-Control", "no-store")
	writeRaw(w, http.StatusOK, buf.Bytes())
}

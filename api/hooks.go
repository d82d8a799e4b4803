package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/cassandranet/cassnet/hooks"
)

// Error codes of the add-on hooks.
const (
	codeRejectedByPlugin = "rejected_by_plugin"
	codePluginFailed     = "plugin_failed"
)

// hookCaller is the principal as a hook sees it, in tenant.
func (p Principal) hookCaller(tenant string) hooks.Caller {
	c := hooks.Caller{Tenant: tenant, Project: p.Project, ID: p.ID, Role: p.Role}
	switch p.Kind {
	case PrincipalAPIKey:
		c.Kind = "api_key"
	case PrincipalPlayer:
		c.Kind = "player"
	default:
		c.Kind = p.Kind
	}
	return c
}

// runBefore runs the before-hook named hook on *req, a request body
// struct. It returns the request as JSON (for the after-hook). When a
// hook amended the request, *req is replaced by the amended request,
// decoded as strictly as a client's body: the caller validates it again,
// since a plugin's answer is as untrusted as the client's.
func runBefore[T any](ctx context.Context, s *Server, hook string, caller hooks.Caller, req *T) ([]byte, error) {
	if _, ok := s.hooks.(hooks.Noop); ok {
		return nil, nil
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	out, err := s.hooks.Before(ctx, hook, caller, body)
	if err != nil {
		return nil, hookError(ctx, err)
	}
	if bytes.Equal(out, body) {
		return body, nil
	}
	var fresh T
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fresh); err != nil {
		return nil, errorf(http.StatusBadGateway, codePluginFailed, "a plugin amended the request into one this route cannot read")
	}
	*req = fresh
	return out, nil
}

// runAfter runs the after-hook named hook with the request and the
// result (marshalled to JSON).
func (s *Server) runAfter(ctx context.Context, hook string, caller hooks.Caller, req []byte, result any) {
	if _, ok := s.hooks.(hooks.Noop); ok {
		return
	}
	b, err := json.Marshal(result)
	if err != nil {
		return
	}
	s.hooks.After(ctx, hook, caller, req, b)
}

// hookError maps a hook's error to the client's answer: a rejection is a
// 4xx with the plugin's message (hostile text, only ever JSON-encoded);
// any other failure refuses the request with 503 and says nothing about
// the plugin's internals.
func hookError(ctx context.Context, err error) error {
	if ctx.Err() != nil { // the client went away or the request timed out
		return ctx.Err()
	}
	var rej *hooks.Rejection
	if errors.As(err, &rej) {
		status := rej.Status
		if status < 400 || status > 499 {
			status = http.StatusBadRequest
		}
		return errorf(status, codeRejectedByPlugin, "%s", rej.Message)
	}
	return errorf(http.StatusServiceUnavailable, codePluginFailed, "a plugin failed on this request, which was refused; the failure is in the audit log")
}

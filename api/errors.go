package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/servers"
	"github.com/cassandranet/cassnet/state/ugc"
)

// Error codes that the API itself produces, beside the consensus codes
// (not_found, conflict, invalid_argument, no_leader, indeterminate,
// shutting_down), which pass through unchanged.
const (
	codeInvalidJSON      = "invalid_json"
	codeUnauthenticated  = "unauthenticated"
	codePermissionDenied = "permission_denied"
	codeMethodNotAllowed = "method_not_allowed"
	codePayloadTooLarge  = "payload_too_large"
	codeUnsupportedMedia = "unsupported_media_type"
	codeNotReady         = "not_ready"
	codeTimeout          = "timeout"
	codeCanceled         = "canceled"
	codeInternal         = "internal"
	codeRateLimited      = "rate_limited"
	codePlayerBanned     = "player_banned"
)

// apiError is an error that already knows its HTTP status and public code.
// Its message is shown to the client, so it must never carry internals.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// errorf returns an *apiError with a formatted message.
func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// badRequest is a 400 with code invalid_argument.
func badRequest(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, consensus.ErrInvalid.Code, format, args...)
}

// notFound is a 404 with code not_found.
func notFound(format string, args ...any) *apiError {
	return errorf(http.StatusNotFound, consensus.ErrNotFound.Code, format, args...)
}

// consensusStatus maps the consensus error codes to HTTP statuses.
var consensusStatus = []struct {
	err    *consensus.Error
	status int
	msg    string
	// public: the error's own message describes the caller's input and may
	// be shown. Otherwise it may name internal addresses, and msg is used.
	public bool
}{
	{consensus.ErrNotFound, http.StatusNotFound, "not found", true},
	{consensus.ErrConflict, http.StatusConflict, "conflict with the current state", true},
	{consensus.ErrInvalid, http.StatusBadRequest, "invalid argument", true},
	{servers.ErrNoCapacity, http.StatusConflict, "no server matches the request", true},
	{ugc.ErrTooLarge, http.StatusRequestEntityTooLarge, "over a size limit", true},
	{ugc.ErrQuota, http.StatusTooManyRequests, "over a quota", true},
	{consensus.ErrStateVersion, http.StatusConflict, "the cluster is not yet at the state version this needs", true},
	{consensus.ErrNoLeader, http.StatusServiceUnavailable, "no leader is known; retry later", false},
	{consensus.ErrShuttingDown, http.StatusServiceUnavailable, "the node is shutting down; retry later or on another node", false},
	// Clients must never be told that a write failed when it may have been
	// applied.
	{consensus.ErrIndeterminate, http.StatusGatewayTimeout, "the write may or may not have been applied; read the resource before retrying", false},
}

// toAPIError maps any error to the response the client sees. The second
// result is false for errors whose details are internal and must be logged
// rather than shown.
func toAPIError(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, true
	}
	for _, m := range consensusStatus {
		if !errors.Is(err, m.err) {
			continue
		}
		msg := m.msg
		var ce *consensus.Error
		if m.public && errors.As(err, &ce) && ce.Message != "" {
			msg = ce.Message
		}
		return &apiError{status: m.status, code: m.err.Code, message: msg}, true
	}
	switch {
	case errors.Is(err, ErrUGCUnavailable):
		return errorf(http.StatusServiceUnavailable, codeNotReady, "the node's UGC blob service is not ready; retry later"), true
	case errors.Is(err, context.DeadlineExceeded):
		return errorf(http.StatusGatewayTimeout, codeTimeout, "the request timed out"), true
	case errors.Is(err, context.Canceled):
		return errorf(http.StatusServiceUnavailable, codeCanceled, "the request was canceled"), true
	}
	return errorf(http.StatusInternalServerError, codeInternal, "internal error"), false
}

// fail answers the request with err mapped to a JSON error. Errors that are
// not expected outcomes (500s) are logged with their details.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae, public := toAPIError(err)
	if !public {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("route", r.Pattern), slog.Any("err", err))
	}
	writeError(w, ae)
}

// writeError writes ae as {"error":{"code":...,"message":...}}. 503s carry
// Retry-After so well-behaved clients back off briefly and retry.
func writeError(w http.ResponseWriter, ae *apiError) {
	if ae.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if ae.status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	writeJSON(w, ae.status, errorBody{Error: errorDetail{Code: ae.code, Message: ae.message}})
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

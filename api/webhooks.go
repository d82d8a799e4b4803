package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/webhooks"
	"github.com/cassandranet/cassnet/webhook"
)

// Webhooks (docs/webhooks.md): the configuration is replicated
// (state/webhooks); the leader's deliverer (package webhook) sends. The
// signing secret is answered once, by the create and rotate routes.

type createWebhookRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
}

type updateWebhookRequest struct {
	URL         *string   `json:"url"`
	Events      *[]string `json:"events"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
}

// webhookView is a webhook as the API shows it: never its secret.
type webhookView struct {
	webhooks.Webhook
	Pending int `json:"pending"`
}

type createdWebhook struct {
	webhookView
	// Secret is shown once.
	Secret string `json:"secret"`
}

type attemptView struct {
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type,omitempty"`
	Attempt    uint32    `json:"attempt"`
	At         time.Time `json:"at"`
	Delivered  bool      `json:"delivered"`
	StatusCode int32     `json:"status_code,omitempty"`
	LatencyMS  uint32    `json:"latency_ms"`
	Error      string    `json:"error,omitempty"`
}

type pendingView struct {
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	Attempts  uint32    `json:"attempts"`
	NextAt    time.Time `json:"next_attempt_at"`
}

func (s *Server) guard() *webhook.Guard {
	if s.webhookGuard != nil {
		return s.webhookGuard
	}
	return &webhook.Guard{}
}

// checkWebhookURL is the SSRF check at creation (the deliverer checks
// again at dial time).
func (s *Server) checkWebhookURL(ctx context.Context, raw string) error {
	if err := webhooks.ValidateURL(raw); err != nil {
		return err
	}
	if err := s.guard().CheckURL(ctx, raw); err != nil {
		return badRequest("url: %v", err)
	}
	return nil
}

func (s *Server) view(tenant, id string) (webhookView, bool) {
	wh, ok := s.state.Webhooks.Webhook(tenant, id)
	if !ok {
		return webhookView{}, false
	}
	return webhookView{Webhook: wh, Pending: s.state.Webhooks.PendingCount(tenant, id)}, true
}

func webhookNotFound(tenant, id string) *apiError {
	return notFound("webhook %q not found in tenant %q", id, tenant)
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant := r.PathValue("tenant")
	var req createWebhookRequest
	if err := decodeJSON(w, r, s.maxBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := consensus.FirstError(s.checkWebhookURL(r.Context(), req.URL), webhooks.ValidateEvents(req.Events),
		webhooks.ValidateDescription(req.Description)); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := webhooks.NewID()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	secret, err := webhooks.NewSecret()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_CreateWebhook{CreateWebhook: &cassnetv1.CreateWebhook{
		Id: id, Tenant: tenant, Url: req.URL, Events: req.Events, Description: req.Description, Secret: secret}}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, ok := s.view(tenant, id)
	if !ok {
		s.fail(w, r, webhookNotFound(tenant, id))
		return
	}
	setIndexHeader(w, idx)
	w.Header().Set("Location", "/v1/tenants/"+tenant+"/webhooks/"+id)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createdWebhook{webhookView: v, Secret: secret})
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	tenant := r.PathValue("tenant")
	if _, ok := s.state.Tenancy.Tenant(tenant); !ok {
		s.fail(w, r, notFound("tenant %q not found", tenant))
		return
	}
	out := []webhookView{}
	for _, wh := range s.state.Webhooks.Webhooks(tenant) {
		out = append(out, webhookView{Webhook: wh, Pending: s.state.Webhooks.PendingCount(tenant, wh.ID)})
	}
	writeJSON(w, http.StatusOK, struct {
		Webhooks []webhookView `json:"webhooks"`
		Types    []string      `json:"event_types"`
	}{out, webhooks.Types()})
}

func (s *Server) handleGetWebhook(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	tenant, id := r.PathValue("tenant"), r.PathValue("webhook")
	v, ok := s.view(tenant, id)
	if !ok {
		s.fail(w, r, webhookNotFound(tenant, id))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleUpdateWebhook(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, id := r.PathValue("tenant"), r.PathValue("webhook")
	var req updateWebhookRequest
	if err := decodeJSON(w, r, s.maxBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	op := &cassnetv1.UpdateWebhook{Tenant: tenant, Id: id, Url: req.URL, Description: req.Description, Enabled: req.Enabled}
	var err error
	if req.URL != nil {
		err = s.checkWebhookURL(r.Context(), *req.URL)
	}
	if err == nil && req.Events != nil {
		op.SetEvents, op.Events = true, *req.Events
		err = webhooks.ValidateEvents(op.Events)
	}
	if err == nil && req.Description != nil {
		err = webhooks.ValidateDescription(*req.Description)
	}
	if err == nil && req.URL == nil && req.Events == nil && req.Description == nil && req.Enabled == nil {
		err = badRequest("set at least one of url, events, description, enabled")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.applyWebhook(w, r, p, &cassnetv1.Command{Op: &cassnetv1.Command_UpdateWebhook{UpdateWebhook: op}}, tenant, id, "")
}

// applyWebhook applies cmd and answers with the webhook (and secret, when
// one was set).
func (s *Server) applyWebhook(w http.ResponseWriter, r *http.Request, p Principal, cmd *cassnetv1.Command, tenant, id, secret string) {
	idx, err := s.apply(r.Context(), p, cmd)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, ok := s.view(tenant, id)
	if !ok {
		s.fail(w, r, webhookNotFound(tenant, id))
		return
	}
	setIndexHeader(w, idx)
	if secret != "" {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, createdWebhook{webhookView: v, Secret: secret})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleRotateWebhookSecret(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, id := r.PathValue("tenant"), r.PathValue("webhook")
	if err := webhooks.ValidateID("webhook", id); err != nil {
		s.fail(w, r, webhookNotFound(tenant, id))
		return
	}
	secret, err := webhooks.NewSecret()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.applyWebhook(w, r, p, &cassnetv1.Command{Op: &cassnetv1.Command_UpdateWebhook{UpdateWebhook: &cassnetv1.UpdateWebhook{
		Tenant: tenant, Id: id, Secret: secret}}}, tenant, id, secret)
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, id := r.PathValue("tenant"), r.PathValue("webhook")
	if webhooks.ValidateID("webhook", id) != nil {
		s.fail(w, r, webhookNotFound(tenant, id))
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_DeleteWebhook{DeleteWebhook: &cassnetv1.DeleteWebhook{Tenant: tenant, Id: id}}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleWebhookDeliveries(w http.ResponseWriter, r *http.Request, _ Principal) {
	limit := 50
	if v, ok := queryValue(r.URL.RawQuery, "limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.fail(w, r, badRequest("limit: must be 1 to 1000"))
			return
		}
		limit = n
	}
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	tenant, id := r.PathValue("tenant"), r.PathValue("webhook")
	v, ok := s.view(tenant, id)
	if !ok {
		s.fail(w, r, webhookNotFound(tenant, id))
		return
	}
	attempts := []attemptView{}
	for _, a := range s.state.Webhooks.Attempts(tenant, id, limit) {
		attempts = append(attempts, attemptView{EventID: a.EventID, EventType: a.EventType, Attempt: a.Attempt, At: a.At,
			Delivered: a.Delivered, StatusCode: a.StatusCode, LatencyMS: a.LatencyMS, Error: a.Error})
	}
	next := []pendingView{}
	for _, d := range s.state.Webhooks.Pending(tenant, id, limit) {
		next = append(next, pendingView{EventID: d.Event.ID, EventType: d.Event.Type, Attempts: d.Attempts, NextAt: d.NextAt})
	}
	writeJSON(w, http.StatusOK, struct {
		Webhook  string        `json:"webhook"`
		Enabled  bool          `json:"enabled"`
		Pending  int           `json:"pending"`
		Dropped  uint64        `json:"dropped"`
		Expired  uint64        `json:"expired"`
		Next     []pendingView `json:"next"`
		Attempts []attemptView `json:"attempts"`
	}{id, v.Enabled, v.Pending, v.Dropped, v.Expired, next, attempts})
}

func (s *Server) handleRedeliverWebhookEvent(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, id, ev := r.PathValue("tenant"), r.PathValue("webhook"), r.PathValue("event")
	if webhooks.ValidateID("webhook", id) != nil {
		s.fail(w, r, webhookNotFound(tenant, id))
		return
	}
	if err := webhooks.ValidateEventID(ev); err != nil {
		s.fail(w, r, notFound("event %q not found for webhook %q", ev, id))
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_RedeliverWebhookEvent{RedeliverWebhookEvent: &cassnetv1.RedeliverWebhookEvent{
		Tenant: tenant, Webhook: id, EventId: ev}}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	writeJSON(w, http.StatusAccepted, struct {
		Webhook string `json:"webhook"`
		EventID string `json:"event_id"`
	}{id, ev})
}

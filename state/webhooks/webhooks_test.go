package webhooks_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/webhooks"
)

const secret = "whsec_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func createWebhook(tenant, id string, events ...string) *cassnetv1.Command {
	return op(&cassnetv1.Command{Op: &cassnetv1.Command_CreateWebhook{CreateWebhook: &cassnetv1.CreateWebhook{
		Id: id, Tenant: tenant, Url: "https://hooks.example/" + id, Events: events, Secret: secret}}})
}

func createBan(tenant, id, player string) *cassnetv1.Command {
	return op(&cassnetv1.Command{Op: &cassnetv1.Command_CreateBan{CreateBan: &cassnetv1.CreateBan{
		Id: id, Tenant: tenant, PlayerId: player, Reason: "aimbot", DurationSeconds: 3600}}})
}

func revokeBan(tenant, id string) *cassnetv1.Command {
	return op(&cassnetv1.Command{Op: &cassnetv1.Command_RevokeBan{RevokeBan: &cassnetv1.RevokeBan{Tenant: tenant, Id: id}}})
}

func record(attempts ...*cassnetv1.WebhookAttempt) *cassnetv1.Command {
	return op(&cassnetv1.Command{Op: &cassnetv1.Command_RecordWebhookDeliveries{RecordWebhookDeliveries: &cassnetv1.RecordWebhookDeliveries{Attempts: attempts}}})
}

func update(u *cassnetv1.UpdateWebhook) *cassnetv1.Command {
	return op(&cassnetv1.Command{Op: &cassnetv1.Command_UpdateWebhook{UpdateWebhook: u}})
}

const wh1, wh2 = "wh_0000000000000001", "wh_0000000000000002"

func banID(i int) string { return fmt.Sprintf("ban_%016x", i) }

// TestOutboxSameEntry: a ban enters the outbox in its own entry, with the
// catalogue type, a deterministic id, the leader's time and the ban's
// data; an unsubscribed type and another tenant's events do not.
func TestOutboxSameEntry(t *testing.T) {
	h := newHarness(t)
	h.must(createWebhook("acme", wh1, "ban.created"))
	h.must(createBan("acme", banID(1), "p1"))
	idx, at := h.index, h.now
	h.must(revokeBan("acme", banID(1)), createBan("other", banID(2), "p2"))
	got := h.d.Webhooks.Pending("acme", wh1, 0)
	if len(got) != 1 {
		t.Fatalf("pending %+v, want one delivery", got)
	}
	ev := got[0].Event
	if ev.ID != fmt.Sprintf("evt_%d_0", idx) || ev.Type != "ban.created" || !ev.OccurredAt.Equal(at) || ev.Tenant != "acme" {
		t.Fatalf("event %+v", ev)
	}
	for k, v := range map[string]string{"ban_id": banID(1), "player_id": "p1", "reason": "aimbot", "actor": "op:alice"} {
		if ev.Data[k] != v {
			t.Errorf("data[%s] = %q, want %q (%v)", k, ev.Data[k], v, ev.Data)
		}
	}
	if ev.Data["expires_at"] == "" {
		t.Errorf("no expires_at in %v", ev.Data)
	}
}

// TestNoWebhooksNoState: without webhooks, events leave the module empty
// (the state hash of such a cluster is unchanged).
func TestNoWebhooksNoState(t *testing.T) {
	h := newHarness(t)
	h.must(createBan("acme", banID(1), "p1"), revokeBan("acme", banID(1)))
	for k, n := range h.d.Webhooks.Snapshot().Counts() {
		if n != 0 {
			t.Errorf("%s: %d, want 0", k, n)
		}
	}
	var e consensus.HashEncoder
	h.d.Webhooks.Snapshot().Hash(&e)
	// A webhook that is deleted again leaves nothing either.
	h.must(createWebhook("acme", wh1, "ban.created"), createBan("acme", banID(2), "p2"))
	h.must(op(&cassnetv1.Command{Op: &cassnetv1.Command_DeleteWebhook{DeleteWebhook: &cassnetv1.DeleteWebhook{Tenant: "acme", Id: wh1}}}))
	for k, n := range h.d.Webhooks.Snapshot().Counts() {
		if n != 0 {
			t.Errorf("after delete, %s: %d, want 0", k, n)
		}
	}
}

func TestSecretNeverRead(t *testing.T) {
	h := newHarness(t)
	h.must(createWebhook("acme", wh1, "ban.created"))
	w, _ := h.d.Webhooks.Webhook("acme", wh1)
	list := h.d.Webhooks.Webhooks("")
	if w.Secret != "" || len(list) != 1 || list[0].Secret != "" {
		t.Fatalf("a read returned the secret: %+v %+v", w, list)
	}
	if s, _ := h.d.Webhooks.SigningSecret("acme", wh1); s != secret {
		t.Fatalf("SigningSecret %q", s)
	}
	for _, e := range h.d.Audit.Entries("", 0) {
		if strings.Contains(e.Detail, secret) || strings.Contains(e.Detail, "/"+wh1) {
			t.Fatalf("audit holds the secret or the URL path: %+v", e)
		}
	}
}

// TestRecord: a failed attempt moves the next attempt and counts a
// failure; a delivered one acknowledges the event and ends the streak; a
// duplicate acknowledgement is logged only.
func TestRecord(t *testing.T) {
	h := newHarness(t)
	h.must(createWebhook("acme", wh1, "ban.created"), createBan("acme", banID(1), "p1"))
	ev := h.d.Webhooks.Pending("acme", wh1, 0)[0].Event
	next := h.now.Add(10e9)
	h.must(record(&cassnetv1.WebhookAttempt{Tenant: "acme", Webhook: wh1, EventId: ev.ID, Attempt: 1, StatusCode: 500,
		Error: "status 500", AtUnixNano: h.now.UnixNano(), NextAttemptUnixNano: next.UnixNano()}))
	d := h.d.Webhooks.Pending("acme", wh1, 0)[0]
	w, _ := h.d.Webhooks.Webhook("acme", wh1)
	if d.Attempts != 1 || !d.NextAt.Equal(next) || w.Failures != 1 || w.FailingSince == nil {
		t.Fatalf("after a failure: %+v %+v", d, w)
	}
	ok := &cassnetv1.WebhookAttempt{Tenant: "acme", Webhook: wh1, EventId: ev.ID, Attempt: 2, Delivered: true, StatusCode: 200, AtUnixNano: h.now.UnixNano()}
	h.must(record(ok), record(ok))
	w, _ = h.d.Webhooks.Webhook("acme", wh1)
	if n := h.d.Webhooks.PendingCount("acme", wh1); n != 0 || w.Failures != 0 || w.FailingSince != nil || w.Delivered != 1 {
		t.Fatalf("after delivery: pending %d, %+v", n, w)
	}
	atts := h.d.Webhooks.Attempts("acme", wh1, 0)
	if len(atts) != 3 || !atts[0].Delivered || atts[2].Delivered || atts[2].EventType != "ban.created" {
		t.Fatalf("attempts %+v", atts)
	}
	// An attempt for a deleted webhook is ignored, not an error.
	h.must(record(&cassnetv1.WebhookAttempt{Tenant: "acme", Webhook: wh2, EventId: ev.ID, Attempt: 1, Delivered: true}))
}

// TestDisable: the leader's disable reason disables the webhook, writes
// an audit entry and a webhook.disabled event for the tenant's other
// webhooks; no new event is queued for it until it is re-enabled, which
// clears the streak and makes its backlog due.
func TestDisable(t *testing.T) {
	h := newHarness(t)
	h.must(createWebhook("acme", wh1, "ban.created"), createWebhook("acme", wh2, "webhook.disabled"), createBan("acme", banID(1), "p1"))
	ev := h.d.Webhooks.Pending("acme", wh1, 0)[0].Event
	h.must(record(&cassnetv1.WebhookAttempt{Tenant: "acme", Webhook: wh1, EventId: ev.ID, Attempt: 7, StatusCode: 503,
		AtUnixNano: h.now.UnixNano(), NextAttemptUnixNano: h.now.Add(1e12).UnixNano(), DisableReason: "failing for 24h"}))
	w, _ := h.d.Webhooks.Webhook("acme", wh1)
	if w.Enabled || w.DisabledReason != "failing for 24h" || w.DisabledAt == nil {
		t.Fatalf("not disabled: %+v", w)
	}
	audited := false
	for _, e := range h.d.Audit.Entries("acme", 0) {
		audited = audited || e.Action == "webhook.disabled" && e.Target == wh1
	}
	if !audited {
		t.Fatal("no audit entry for the disabling")
	}
	other := h.d.Webhooks.Pending("acme", wh2, 0)
	if len(other) != 1 || other[0].Event.Type != "webhook.disabled" || other[0].Event.Data["webhook"] != wh1 {
		t.Fatalf("webhook.disabled not queued: %+v", other)
	}
	h.must(createBan("acme", banID(2), "p2"))
	if n := h.d.Webhooks.PendingCount("acme", wh1); n != 1 {
		t.Fatalf("a disabled webhook got a new event: %d pending", n)
	}
	en := true
	h.must(update(&cassnetv1.UpdateWebhook{Tenant: "acme", Id: wh1, Enabled: &en}))
	w, _ = h.d.Webhooks.Webhook("acme", wh1)
	d := h.d.Webhooks.Pending("acme", wh1, 0)[0]
	if !w.Enabled || w.Failures != 0 || w.DisabledReason != "" || !d.NextAt.Equal(h.now) {
		t.Fatalf("re-enabled: %+v %+v", w, d)
	}
}

// TestOutboxBound: a full tenant outbox records nothing more and counts
// what it could not record in the webhook's Dropped.
func TestOutboxBound(t *testing.T) {
	const limit = 50
	h := newHarness(t)
	h.d.Webhooks.SetOutboxCap(limit)
	h.must(createWebhook("acme", wh1, "ban.created", "ban.revoked"))
	for i := range limit + 3 {
		h.must(createBan("acme", banID(i), "p"))
	}
	w, _ := h.d.Webhooks.Webhook("acme", wh1)
	if n := h.d.Webhooks.PendingCount("acme", wh1); n != limit || w.Dropped != 3 {
		t.Fatalf("pending %d dropped %d", n, w.Dropped)
	}
	if st := h.d.Webhooks.Stats(); st.Dropped != 3 || st.Pending != limit {
		t.Fatalf("stats %+v", st)
	}
}

func TestAttemptLogBounded(t *testing.T) {
	h := newHarness(t)
	h.must(createWebhook("acme", wh1, "ban.created"), createBan("acme", banID(1), "p1"))
	ev := h.d.Webhooks.Pending("acme", wh1, 0)[0].Event
	for i := range webhooks.MaxAttemptsKept + 10 {
		h.must(record(&cassnetv1.WebhookAttempt{Tenant: "acme", Webhook: wh1, EventId: ev.ID, Attempt: uint32(i + 1), StatusCode: 500,
			AtUnixNano: h.now.UnixNano(), NextAttemptUnixNano: h.now.UnixNano()}))
	}
	atts := h.d.Webhooks.Attempts("acme", wh1, 0)
	if len(atts) != webhooks.MaxAttemptsKept || atts[0].Attempt != webhooks.MaxAttemptsKept+10 {
		t.Fatalf("%d attempts kept, newest %d", len(atts), atts[0].Attempt)
	}
}

// TestRedeliver: a delivered event comes back as a delivery with the same
// id; an unknown one is not found.
func TestRedeliver(t *testing.T) {
	h := newHarness(t)
	h.must(createWebhook("acme", wh1, "ban.created"), createBan("acme", banID(1), "p1"))
	ev := h.d.Webhooks.Pending("acme", wh1, 0)[0].Event
	h.must(record(&cassnetv1.WebhookAttempt{Tenant: "acme", Webhook: wh1, EventId: ev.ID, Attempt: 1, Delivered: true, AtUnixNano: h.now.UnixNano()}))
	redeliver := func(id string) error {
		return h.apply(op(&cassnetv1.Command{Op: &cassnetv1.Command_RedeliverWebhookEvent{RedeliverWebhookEvent: &cassnetv1.RedeliverWebhookEvent{
			Tenant: "acme", Webhook: wh1, EventId: id}}}))
	}
	if err := redeliver(ev.ID); err != nil {
		t.Fatal(err)
	}
	got := h.d.Webhooks.Pending("acme", wh1, 0)
	if len(got) != 1 || got[0].Event.ID != ev.ID || got[0].Event.Data["ban_id"] != banID(1) {
		t.Fatalf("redelivered %+v", got)
	}
	if err := redeliver("evt_99_0"); !errors.Is(err, consensus.ErrNotFound) {
		t.Fatalf("unknown event: %v", err)
	}
}

func TestValidation(t *testing.T) {
	h := newHarness(t)
	bad := []*cassnetv1.CreateWebhook{
		{Id: wh1, Tenant: "acme", Url: "ftp://x/", Events: []string{"ban.created"}, Secret: secret},
		{Id: wh1, Tenant: "acme", Url: "https://user:pw@x/", Events: []string{"ban.created"}, Secret: secret},
		{Id: wh1, Tenant: "acme", Url: "https://x/", Events: []string{"ban.nope"}, Secret: secret},
		{Id: wh1, Tenant: "acme", Url: "https://x/", Events: nil, Secret: secret},
		{Id: wh1, Tenant: "acme", Url: "https://x/", Events: []string{"ban.created", "ban.created"}, Secret: secret},
		{Id: wh1, Tenant: "acme", Url: "https://x/", Events: []string{"ban.created"}, Secret: "short"},
		{Id: "wh_x", Tenant: "acme", Url: "https://x/", Events: []string{"ban.created"}, Secret: secret},
	}
	for _, c := range bad {
		if err := h.apply(op(&cassnetv1.Command{Op: &cassnetv1.Command_CreateWebhook{CreateWebhook: c}})); !errors.Is(err, consensus.ErrInvalid) {
			t.Errorf("%v: %v, want invalid", c, err)
		}
	}
	if err := h.apply(createWebhook("ghost", wh1, "ban.created")); !errors.Is(err, consensus.ErrNotFound) {
		t.Errorf("unknown tenant: %v", err)
	}
	for i := range webhooks.MaxWebhooksPerTenant {
		h.must(createWebhook("acme", fmt.Sprintf("wh_%016x", i+10), "ban.created"))
	}
	if err := h.apply(createWebhook("acme", wh1, "ban.created")); !errors.Is(err, consensus.ErrConflict) {
		t.Errorf("past the cap: %v", err)
	}
}

// TestSnapshotRoundTrip: webhooks, outbox and attempts survive a
// snapshot with the same hash; deleting the tenant removes them all.
func TestSnapshotRoundTrip(t *testing.T) {
	h := newHarness(t)
	h.must(createWebhook("acme", wh1, "ban.created"), createWebhook("acme", wh2, "ban.revoked"),
		createBan("acme", banID(1), "p1"), createBan("acme", banID(2), "p2"), revokeBan("acme", banID(1)))
	ev := h.d.Webhooks.Pending("acme", wh1, 0)[0].Event
	h.must(record(&cassnetv1.WebhookAttempt{Tenant: "acme", Webhook: wh1, EventId: ev.ID, Attempt: 1, Delivered: true, AtUnixNano: h.now.UnixNano()}))
	fsm, d := restoreInto(t, persist(t, h.fsm))
	if fsm.Hash() != h.fsm.Hash() {
		t.Fatal("restored hash differs")
	}
	if n := d.Webhooks.PendingCount("acme", wh1) + d.Webhooks.PendingCount("acme", wh2); n != 2 {
		t.Fatalf("restored %d pending, want 2", n)
	}
	if s, _ := d.Webhooks.SigningSecret("acme", wh1); s != secret {
		t.Fatal("secret lost in the snapshot")
	}
	h.must(op(&cassnetv1.Command{Op: &cassnetv1.Command_DeleteTenant{DeleteTenant: &cassnetv1.DeleteTenant{Name: "acme"}}}))
	for k, n := range h.d.Webhooks.Snapshot().Counts() {
		if n != 0 {
			t.Errorf("after tenant deletion, %s: %d", k, n)
		}
	}
}

func TestSessionAndServerEvents(t *testing.T) {
	h := newHarness(t)
	h.must(createWebhook("acme", wh1, "session.revoked"))
	h.must(op(&cassnetv1.Command{Op: &cassnetv1.Command_RevokeSession{RevokeSession: &cassnetv1.RevokeSession{Tenant: "acme", SessionId: "ses_1"}}}),
		op(&cassnetv1.Command{Op: &cassnetv1.Command_RevokePlayerSessions{RevokePlayerSessions: &cassnetv1.RevokePlayerSessions{Tenant: "acme", PlayerId: "p1", Project: "arena"}}}))
	got := h.d.Webhooks.Pending("acme", wh1, 0)
	if len(got) != 2 || got[0].Event.Data["session_id"] != "ses_1" || got[1].Event.Data["player_id"] != "p1" || got[1].Event.Data["scope"] != "player" {
		t.Fatalf("session events %+v %+v", got[0].Event, got[1].Event)
	}
}

func TestCatalogueDocumented(t *testing.T) {
	for _, typ := range webhooks.Types() {
		if !webhooks.KnownType(typ) {
			t.Fatal(typ)
		}
	}
	if _, ok := webhooks.TypeOf("ban.create"); !ok {
		t.Fatal("ban.create unmapped")
	}
	if !strings.Contains(webhooks.CatalogueMarkdown(), "`ban.created`") {
		t.Fatal("markdown")
	}
}

// TestCataloguePage: docs/webhooks.md holds the catalogue table as the
// code has it.
func TestCataloguePage(t *testing.T) {
	b, err := os.ReadFile("../../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), webhooks.CatalogueMarkdown()) {
		t.Fatalf("docs/webhooks.md does not hold the catalogue; paste:\n%s", webhooks.CatalogueMarkdown())
	}
}

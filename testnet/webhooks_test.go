package testnet

import (
	"testing"
)

func delivery(id, typ, ban, player string) WebhookDelivery {
	body := `{"id":"` + id + `","type":"` + typ + `","data":{"ban_id":"` + ban + `","player_id":"` + player + `"}}`
	return WebhookDelivery{ID: id, Type: typ, Data: map[string]string{"ban_id": ban, "player_id": player}, Body: []byte(body), SignatureOK: true}
}

// TestWebhookCheckerFailsOnDoctoredHistories: the checker passes a good
// history (with retries and an uncertain write) and fails each doctored
// one.
func TestWebhookCheckerFailsOnDoctoredHistories(t *testing.T) {
	good := func() WebhookHistory {
		return WebhookHistory{
			Subscribed:   []string{"ban.created"},
			Acknowledged: []string{"ban_1", "ban_2"},
			Uncertain:    []string{"p3"},
			Deliveries: []WebhookDelivery{
				delivery("evt_10_0", "ban.created", "ban_1", "p1"),
				delivery("evt_11_0", "ban.created", "ban_2", "p2"),
				delivery("evt_10_0", "ban.created", "ban_1", "p1"), // a retry
				delivery("evt_12_0", "ban.created", "ban_3", "p3"), // the uncertain write happened
			},
		}
	}
	if r := CheckWebhooks(good()); r.Verdict != Pass {
		t.Fatalf("good history: %s", r)
	}
	doctored := map[string]func(h *WebhookHistory){
		"a lost event":    func(h *WebhookHistory) { h.Deliveries = []WebhookDelivery{h.Deliveries[1], h.Deliveries[3]} },
		"a bad signature": func(h *WebhookHistory) { h.Deliveries[1].SignatureOK = false },
		"an unsubscribed type": func(h *WebhookHistory) {
			h.Deliveries = append(h.Deliveries, delivery("evt_13_0", "ban.revoked", "ban_1", "p1"))
		},
		"two events for one ban": func(h *WebhookHistory) {
			h.Deliveries = append(h.Deliveries, delivery("evt_14_0", "ban.created", "ban_2", "p2"))
		},
		"a duplicate that is no retry": func(h *WebhookHistory) {
			d := delivery("evt_10_0", "ban.created", "ban_1", "p1")
			d.Body = append(d.Body, ' ')
			h.Deliveries = append(h.Deliveries, d)
		},
		"a phantom ban": func(h *WebhookHistory) {
			h.Deliveries = append(h.Deliveries, delivery("evt_15_0", "ban.created", "ban_9", "p9"))
		},
	}
	for name, doctor := range doctored {
		h := good()
		doctor(&h)
		if r := CheckWebhooks(h); r.Verdict != Fail {
			t.Errorf("%s: %s, want FAIL", name, r)
		}
	}
}

package webhooks_test

import (
	"testing"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// BenchmarkApplyBan is the cost the outbox adds to a CreateBan apply:
// without a webhook (the sink returns at once), and with one subscribed
// (the event enters the outbox in the same entry). The outbox is emptied
// as it fills, so its size stays small.
func BenchmarkApplyBan(b *testing.B) {
	for _, sub := range []bool{false, true} {
		name := "no-webhook"
		if sub {
			name = "one-webhook"
		}
		b.Run(name, func(b *testing.B) {
			h := newHarness(b)
			if sub {
				h.must(createWebhook("acme", wh1, "ban.created"))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				h.must(createBan("acme", banID(i), "p"))
				if sub && i%5000 == 4999 {
					b.StopTimer()
					h.must(deleteAndRecreate()...)
					b.StartTimer()
				}
			}
		})
	}
}

func deleteAndRecreate() []*cassnetv1.Command {
	return []*cassnetv1.Command{
		op(&cassnetv1.Command{Op: &cassnetv1.Command_DeleteWebhook{DeleteWebhook: &cassnetv1.DeleteWebhook{Tenant: "acme", Id: wh1}}}),
		createWebhook("acme", wh1, "ban.created"),
	}
}

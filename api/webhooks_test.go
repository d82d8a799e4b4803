package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/cassandranet/cassnet/webhook"
)

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ips, ok := f[host]; ok {
		return ips, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func webhookHarness(t testing.TB) *harness {
	h := newHarness(t, func(c *Config) {
		c.WebhookGuard = &webhook.Guard{Resolver: fakeResolver{
			"rebind.example": {netip.MustParseAddr("127.0.0.1")},
			"hooks.example":  {netip.MustParseAddr("93.184.215.14")},
		}}
	})
	h.createTenant("acme")
	return h
}

// TestWebhookCRUD: the secret is answered once (create, rotate) and never
// by a read; PATCH changes and re-enables; DELETE removes.
func TestWebhookCRUD(t *testing.T) {
	h := webhookHarness(t)
	rec := h.do("POST", "/v1/tenants/acme/webhooks", `{"url":"https://hooks.example/h","events":["ban.created"],"description":"discord"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var created struct {
		ID, Secret string
		Enabled    bool
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &created)
	if !strings.HasPrefix(created.Secret, "whsec_") || !created.Enabled || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("created %s", rec.Body)
	}
	base := "/v1/tenants/acme/webhooks/" + created.ID
	for _, target := range []string{base, "/v1/tenants/acme/webhooks", base + "/deliveries"} {
		rec := h.do("GET", target, "")
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), created.Secret) || strings.Contains(rec.Body.String(), `"secret"`) {
			t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
		}
	}
	if strings.Contains(h.logs.String(), created.Secret) {
		t.Fatal("the secret was logged")
	}
	rec = h.do("PATCH", base, `{"events":["ban.created","ban.revoked"],"enabled":false}`)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"enabled":false`) || !strings.Contains(rec.Body.String(), "ban.revoked") {
		t.Fatalf("patch: %d %s", rec.Code, rec.Body)
	}
	rec = h.do("POST", base+"/rotate-secret", "")
	var rotated struct{ Secret string }
	_ = json.Unmarshal(rec.Body.Bytes(), &rotated)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.Secret == created.Secret {
		t.Fatalf("rotate: %d %s", rec.Code, rec.Body)
	}
	if rec := h.do("DELETE", base, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	if rec := h.do("GET", base, ""); rec.Code != http.StatusNotFound {
		t.Fatalf("get after delete: %d", rec.Code)
	}
}

// TestWebhookSSRF: loopback, private, link-local and http targets are
// refused at creation and on PATCH without the operator's flags,
// including a host name that resolves to 127.0.0.1.
func TestWebhookSSRF(t *testing.T) {
	h := webhookHarness(t)
	for _, u := range []string{
		"https://127.0.0.1/h", "https://localhost/h", "https://rebind.example/h", "https://10.0.0.5/h",
		"https://169.254.169.254/latest", "https://[::1]/h", "https://[fd12::1]/h", "https://100.64.0.1/h",
		"http://hooks.example/h", "https://nxdomain.example/h", "ftp://hooks.example/h", "https://u:p@hooks.example/",
	} {
		rec := h.do("POST", "/v1/tenants/acme/webhooks", `{"url":"`+u+`","events":["ban.created"]}`)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "url") {
			t.Errorf("%s: %d %s", u, rec.Code, rec.Body)
		}
	}
	rec := h.do("POST", "/v1/tenants/acme/webhooks", `{"url":"https://hooks.example/h","events":["ban.created"]}`)
	var created struct{ ID string }
	_ = json.Unmarshal(rec.Body.Bytes(), &created)
	if rec := h.do("PATCH", "/v1/tenants/acme/webhooks/"+created.ID, `{"url":"https://rebind.example/h"}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("patch to a loopback name: %d %s", rec.Code, rec.Body)
	}
	// With the operator's flags, private http targets are allowed.
	open := newHarness(t, func(c *Config) { c.WebhookGuard = &webhook.Guard{AllowPrivate: true, AllowHTTP: true} })
	open.createTenant("acme")
	if rec := open.do("POST", "/v1/tenants/acme/webhooks", `{"url":"http://127.0.0.1:9000/h","events":["ban.created"]}`); rec.Code != http.StatusCreated {
		t.Fatalf("allowed private: %d %s", rec.Code, rec.Body)
	}
}

func TestWebhookValidation(t *testing.T) {
	h := webhookHarness(t)
	for _, body := range []string{
		`{"url":"https://hooks.example/h","events":[]}`,
		`{"url":"https://hooks.example/h","events":["ban.nope"]}`,
		`{"url":"https://hooks.example/h","events":["ban.created"],"secret":"mine"}`,
		`{"url":"https://hooks.example/h","events":["ban.created"],"description":"` + strings.Repeat("x", 300) + `"}`,
		`{"events":["ban.created"]}`,
	} {
		if rec := h.do("POST", "/v1/tenants/acme/webhooks", body); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", body, rec.Code, rec.Body)
		}
	}
	if rec := h.do("GET", "/v1/tenants/acme/webhooks/wh_0000000000000009/deliveries?limit=0", ""); rec.Code != http.StatusBadRequest {
		t.Errorf("limit=0: %d", rec.Code)
	}
	if rec := h.do("POST", "/v1/tenants/acme/webhooks/nope/deliveries/evt_1_0/redeliver", ""); rec.Code != http.StatusNotFound {
		t.Errorf("bad id: %d", rec.Code)
	}
}

func FuzzDecodeCreateWebhook(f *testing.F) {
	for _, seed := range []string{
		`{"url":"https://hooks.example/h","events":["ban.created"],"description":"d"}`,
		`{"url":"https://127.0.0.1/h","events":["ban.created"]}`,
		`{"url":"https://[::1%25eth0]/","events":["ban.created"]}`,
		`{"url":"` + strings.Repeat("a", 3000) + `","events":["x"]}`,
		`{"url":"https://hooks.example/h","events":null}`,
		`{"url":1}`, `[`, `null`, `{"url":"https://hooks.example/\u0000"}`, "\xff",
	} {
		f.Add(seed)
	}
	h := webhookHarness(f)
	f.Fuzz(func(t *testing.T, body string) {
		fuzzBody(t, h, "/v1/tenants/acme/webhooks", body)
	})
}

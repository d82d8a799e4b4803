package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/webhook"
)

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ips, ok := f[host]; ok {
		return ips, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestGuardCheckURL(t *testing.T) {
	g := &webhook.Guard{Resolver: fakeResolver{
		"evil.example":   {netip.MustParseAddr("127.0.0.1")},
		"mixed.example":  {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.1.2.3")},
		"good.example":   {netip.MustParseAddr("93.184.215.14")},
		"mapped.example": {netip.MustParseAddr("::ffff:192.168.1.1")},
	}}
	refused := []string{
		"http://good.example/hook", // https required
		"https://127.0.0.1/hook", "https://[::1]/hook", "https://10.0.0.1/", "https://172.16.5.4/",
		"https://192.168.1.1/", "https://169.254.169.254/latest/meta-data", "https://[fe80::1]/",
		"https://[fd00::1]/", "https://100.64.1.1/", "https://0.0.0.0/", "https://224.0.0.1/",
		"https://255.255.255.255/", "https://[::ffff:127.0.0.1]/", "https://[64:ff9b::a00:1]/",
		"https://localhost/", "https://api.localhost./", "https://evil.example/", "https://mixed.example/",
		"https://mapped.example/", "https://nxdomain.example/", "ftp://good.example/",
	}
	for _, u := range refused {
		if err := g.CheckURL(context.Background(), u); !errors.Is(err, webhook.ErrRefused) {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	for _, u := range []string{"https://good.example/hook", "https://93.184.215.14:8443/x", "https://[2606:4700::1]/"} {
		if err := g.CheckURL(context.Background(), u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	open := &webhook.Guard{AllowPrivate: true, AllowHTTP: true}
	for _, u := range []string{"http://127.0.0.1:9/x", "https://localhost/", "http://evil.example/"} {
		if err := open.CheckURL(context.Background(), u); err != nil {
			t.Errorf("allowed %s: %v", u, err)
		}
	}
}

// TestGuardAtDialTime: a delivery to a name that resolves to 127.0.0.1
// is refused at dial time without the flag (whatever the check at
// creation said: DNS rebinding), and reaches the receiver with it.
func TestGuardAtDialTime(t *testing.T) {
	hit := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit <- struct{}{} }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	target := "http://localhost:" + port + "/hook"

	strict := (&webhook.Guard{AllowHTTP: true}).Client(2 * time.Second)
	_, err := strict.Post(target, "application/json", nil)
	if !errors.Is(err, webhook.ErrRefused) {
		t.Fatalf("dial to localhost: %v, want refused", err)
	}
	select {
	case <-hit:
		t.Fatal("the receiver was reached")
	default:
	}
	open := (&webhook.Guard{AllowHTTP: true, AllowPrivate: true}).Client(2 * time.Second)
	resp, err := open.Post(target, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestNoRedirects: a 302 is the answer, not followed.
func TestNoRedirects(t *testing.T) {
	followed := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/next" {
			followed = true
			return
		}
		http.Redirect(w, r, "/next", http.StatusFound)
	}))
	defer srv.Close()
	c := (&webhook.Guard{AllowHTTP: true, AllowPrivate: true}).Client(2 * time.Second)
	resp, err := c.Post(srv.URL+"/", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || followed {
		t.Fatalf("status %d, followed %v", resp.StatusCode, followed)
	}
}

func TestBackoffSchedule(t *testing.T) {
	b := webhook.DefaultBackoff
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second}
	for i, w := range want {
		if got := b.Delay(uint32(i+1), 0.5); got != w {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w)
		}
		lo, hi := b.Delay(uint32(i+1), 0), b.Delay(uint32(i+1), 0.999999)
		if lo < time.Duration(float64(w)*0.8)-time.Millisecond || hi > time.Duration(float64(w)*1.2) || lo >= hi {
			t.Errorf("attempt %d: jitter [%v, %v] around %v", i+1, lo, hi, w)
		}
	}
	if got := b.Delay(40, 0.5); got != time.Hour {
		t.Errorf("attempt 40: %v, want the 1 h cap", got)
	}
	// Over 24 h the schedule makes a bounded number of attempts.
	var total time.Duration
	n := uint32(0)
	for total < 24*time.Hour {
		n++
		total += b.Delay(n, 0.5)
	}
	if n < 20 || n > 40 {
		t.Errorf("%d attempts in 24 h", n)
	}
}

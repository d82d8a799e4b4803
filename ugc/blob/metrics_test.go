package blob

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	a := newNode(t, "node-a", nil, nil)
	reg := prometheus.NewRegistry()
	if err := a.svc.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(1000, 12)
	url, _ := a.svc.Create(ctx, testUpload(StoreLocal, data))
	if code, _ := tusPatch(t, url, 0, data); code != http.StatusNoContent {
		t.Fatal(code)
	}
	u := testUpload(StoreLocal, data)
	u.SHA256 = sum([]byte("other"))
	url, _ = a.svc.Create(ctx, u)
	tusPatch(t, url, 0, data)
	for _, c := range []struct {
		got  float64
		want float64
		what string
	}{
		{testutil.ToFloat64(a.svc.met.received.WithLabelValues("local")), 2000, "bytes"},
		{testutil.ToFloat64(a.svc.met.uploads.WithLabelValues("local", outcomeCompleted)), 1, "completed"},
		{testutil.ToFloat64(a.svc.met.uploads.WithLabelValues("local", outcomeMismatch)), 1, "mismatch"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n == 0 {
		t.Fatalf("gathered %d series: %v", n, err)
	}
}

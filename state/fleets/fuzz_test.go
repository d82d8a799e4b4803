package fleets_test

import (
	"encoding/json"
	"testing"

	"github.com/cassandranet/cassnet/state/fleets"
)

// FuzzParseSpec: ParseSpec never panics, and a spec it accepts validates
// again after a JSON round trip (what Apply and Restore see).
func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(specJSON))
	f.Add([]byte(`{"command":["/a"],"buffer":{"percent":25,"min_ready":2},"max_servers":100}`))
	f.Add([]byte(`{"command":["/a"],"ports":[{"name":"g","protocol":"udp","range":"1-65535"}],"buffer":{"ready":1},"max_servers":1}`))
	f.Add([]byte(`{"command":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := fleets.ParseSpec(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fleets.ParseSpec(again); err != nil {
			t.Fatalf("accepted spec fails after a round trip: %v\n%s", err, again)
		}
		if s.Want(1<<20) < 0 || s.PerNode() < 1 {
			t.Fatalf("want %d per node %d", s.Want(1<<20), s.PerNode())
		}
	})
}

package testnet

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeNode serves the parts of the REST API the checkers read: raft
// status, members and the ban list. Each field is the JSON it answers.
type fakeNode struct {
	raft    RaftInfo
	members []map[string]string
	bans    []map[string]any
}

// start serves f and returns a Node pointing at it.
func (f *fakeNode) start(t *testing.T, name string) *Node {
	t.Helper()
	mux := http.NewServeMux()
	reply := func(v any) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(v) }
	}
	mux.Handle("GET /v1/cluster/raft", reply(&f.raft))
	mux.Handle("GET /v1/members", reply(map[string]any{"members": f.members}))
	mux.Handle("GET /v1/tenants/t/bans", reply(map[string]any{"bans": f.bans}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	p, _ := strconv.Atoi(port)
	return &Node{Name: name, IP: host, Ports: Ports{HTTP: p}, logPath: filepath.Join(t.TempDir(), name+".log")}
}

func alive(names ...string) []map[string]string {
	var out []map[string]string
	for _, n := range names {
		out = append(out, map[string]string{"name": n, "status": "alive"})
	}
	return out
}

func TestConvergenceChecker(t *testing.T) {
	cases := []struct {
		name   string
		hash2  string
		index2 uint64
		n2     members
		want   Verdict
	}{
		{"converged", "h1", 10, alive("a", "b"), Pass},
		{"hash differs", "h2", 10, alive("a", "b"), Fail},
		{"index differs", "h1", 9, alive("a", "b"), Fail},
		{"member failed", "h1", 10, []map[string]string{{"name": "a", "status": "failed"}, {"name": "b", "status": "alive"}}, Fail},
		{"member missing", "h1", 10, alive("b"), Fail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := (&fakeNode{raft: RaftInfo{ID: "ida", AppliedIndex: 10, StateHash: "h1"}, members: alive("a", "b")}).start(t, "a")
			b := (&fakeNode{raft: RaftInfo{ID: "idb", AppliedIndex: tc.index2, StateHash: tc.hash2}, members: tc.n2}).start(t, "b")
			run := &RunData{Client: NewClient("x"), Nodes: []*Node{a, b}}
			res := (&ConvergenceChecker{Within: 500 * time.Millisecond}).Check(context.Background(), run)
			if res.Verdict != tc.want {
				t.Errorf("verdict %s, want %s: %s", res.Verdict, tc.want, res)
			}
		})
	}
}

// members is what a fake node's /v1/members lists.
type members = []map[string]string

func TestLostWriteChecker(t *testing.T) {
	ops := []Entry{
		hop(0, 0, 1, createP1, ok),
		hop(0, 2, 3, revokeP1, BanOutput{Outcome: OutOK}),
		hop(1, 0, 1, BanInput{Kind: BanCreate, Player: "p2"}, BanOutput{Outcome: OutOK, BanID: "b2"}),
		hop(2, 0, 1, BanInput{Kind: BanCreate, Player: "p3"}, BanOutput{Outcome: OutFail}),
		hop(3, 0, 1, BanInput{Kind: BanCreate, Player: "p4"}, BanOutput{Outcome: OutUnknown}),
	}
	revoked := map[string]any{"id": "b1", "player_id": "p1", "revoked_at": "2026-01-01T00:00:00Z"}
	b2 := map[string]any{"id": "b2", "player_id": "p2", "revoked_at": nil}
	cases := []struct {
		name string
		bans []map[string]any
		want Verdict
		says string
	}{
		{"all present", []map[string]any{revoked, b2}, Pass, "0 lost, 0 revokes lost, 0 phantom"},
		{"acknowledged ban lost", []map[string]any{revoked}, Fail, "ban b2 (player p2) is missing"},
		{"acknowledged revoke lost", []map[string]any{{"id": "b1", "player_id": "p1", "revoked_at": nil}, b2}, Fail, "not revoked"},
		{"definite failure appeared", []map[string]any{revoked, b2, {"id": "b3", "player_id": "p3"}}, Fail, "player p3 is banned"},
		{"indeterminate create applied once", []map[string]any{revoked, b2, {"id": "b4", "player_id": "p4"}}, Pass, "0 duplicated"},
		{"indeterminate create applied twice", []map[string]any{revoked, b2, {"id": "b4", "player_id": "p4"}, {"id": "b5", "player_id": "p4"}}, Fail, "player p4 has 2 bans from 1 creates"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			good := (&fakeNode{bans: []map[string]any{revoked, b2}}).start(t, "good")
			bad := (&fakeNode{bans: tc.bans}).start(t, "bad")
			run := &RunData{Client: NewClient("x"), Nodes: []*Node{good, bad}, Ops: ops, Tenant: "t"}
			res := (&LostWriteChecker{}).Check(context.Background(), run)
			if res.Verdict != tc.want || !strings.Contains(res.String(), tc.says) {
				t.Errorf("verdict %s, want %s mentioning %q:\n%s", res.Verdict, tc.want, tc.says, res)
			}
		})
	}
}

func TestLogChecker(t *testing.T) {
	cases := []struct {
		name, log, race string
		want            Verdict
	}{
		{"clean", "level=INFO msg=\"node started\"\n", "", Pass},
		{"panic", "level=INFO msg=ok\npanic: runtime error: index out of range\n", "", Fail},
		{"fatal", "fatal error: concurrent map writes\n", "", Fail},
		{"hung stop", "level=INFO msg=\"mesh: left cluster\"\nSIGQUIT: quit\nPC=0x4739a1 m=0 sigcode=0\n", "", Fail},
		{"race report", "level=INFO msg=ok\n", "==================\nWARNING: DATA RACE\nWrite at 0x00c000\n", Fail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			n := &Node{Name: "n1", logPath: filepath.Join(dir, "n1.log")}
			if err := os.WriteFile(n.logPath, []byte(tc.log), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.race != "" {
				if err := os.WriteFile(filepath.Join(dir, "n1.race.1234"), []byte(tc.race), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			res := (&LogChecker{}).Check(context.Background(), &RunData{Nodes: []*Node{n}})
			if res.Verdict != tc.want {
				t.Errorf("verdict %s, want %s: %s", res.Verdict, tc.want, res)
			}
		})
	}
}

// TestMessagingCheckerClaimsNothing: without the pubsub workload the
// messaging and session checkers say they checked nothing, not PASS.
func TestMessagingCheckerClaimsNothing(t *testing.T) {
	for _, c := range []Checker{MessagingChecker{}, SessionChecker{}} {
		res := c.Check(context.Background(), &RunData{Generators: []Generator{&BanWorkload{}}})
		if res.Verdict != NotApplicable || !strings.Contains(res.Summary, "not applicable") {
			t.Errorf("%s without its workload must say it checks nothing: %s", c.Name(), res)
		}
	}
}

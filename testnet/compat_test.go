package testnet

// The compatibility proof for data dirs written by an older binary
// (issue 10): testdata/compat-e8364f0 holds a one-node data dir made by the
// binary of commit e8364f0 (its Raft log and a snapshot), and a golden
// answer for every REST read of that state. TestCompatDataDir starts the
// binary under test on a copy of that data dir and asserts every answer is
// exactly the same. compat_gen_test.go makes the testdata.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
)

// compatDir is the testdata of the data dir made by commit e8364f0.
const compatDir = "testdata/compat-e8364f0"

// compatRead is one REST read and its golden answer, one file per read
// under compatDir/golden.
type compatRead struct {
	Name   string          `json:"name"`
	Method string          `json:"method"`
	Path   string          `json:"path"`
	Body   json.RawMessage `json:"body,omitempty"`
	Status int             `json:"status"`
	// Response is the normalised body (normaliseRead): volatile fields
	// removed, keys sorted.
	Response json.RawMessage `json:"response"`
}

// compatManifest describes the data dir: what the generator made and the
// figures the test checks besides the reads.
type compatManifest struct {
	Commit        string    `json:"commit"`
	GeneratedAt   time.Time `json:"generated_at"`
	NodeID        string    `json:"node_id"`
	StateHash     string    `json:"state_hash"`
	AppliedIndex  uint64    `json:"applied_index"`
	LastIndex     uint64    `json:"last_index"`
	SnapshotIndex uint64    `json:"snapshot_index"`
	// Counts of what was written, for the reader of the testdata.
	Counts map[string]int `json:"counts"`
	Reads  []string       `json:"reads"`
}

// volatileRaftFields are dropped from GET /v1/cluster/raft before it is
// compared: they describe this process's Raft run, not the replicated
// state. term moves with every election (a restart holds one);
// last_index and commit_index move with the no-op entry a new leader
// appends (no command is applied, so applied_index stays); leader_addr and
// servers[].address carry the Raft port, which the test allocates afresh;
// last_contact_ms is a clock reading. applied_index, state_hash, id,
// leader_id, state and servers[].{id,suffrage,leader} are compared.
//
// Since the domain-state release, applied_index is checked separately
// (checkUpgradeIndex): the new binary raises the cluster's state version
// with one engine entry once every server runs it. state_version is what
// that release added to this read.
var volatileRaftFields = []string{"term", "last_index", "commit_index", "leader_addr", "last_contact_ms", "applied_index", "state_version"}

// addedDefaults are fields later releases added to a read, with the value
// they must have on a data dir of e8364f0 (which never set them). They are
// removed before comparing only when they hold that value.
var addedDefaults = map[string]map[string]string{
	"/v1/cluster/settings": {"ban_retention_seconds": "2592000"},
}

// normaliseRead turns a response body into the canonical form the golden
// files hold: re-encoded with sorted keys and indented, volatile fields
// removed. Only GET /v1/cluster/raft has volatile fields in its body; no
// other read of the data dir carries a time of "now" or anything of the
// node (every time stamp in them is replicated: the leader's time at
// apply). Response headers are not compared at all: X-Cass-Known-Leader
// and X-Cass-Last-Contact describe the node's Raft run, and X-Cass-Index
// is checked through applied_index.
func normaliseRead(path string, body []byte) (json.RawMessage, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return json.RawMessage("null"), nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: not JSON: %w: %q", path, err, body)
	}
	for prefix, fields := range addedDefaults {
		m, ok := v.(map[string]any)
		if !ok || !strings.HasPrefix(path, prefix) {
			continue
		}
		for f, want := range fields {
			if n, ok := m[f].(json.Number); ok && n.String() == want {
				delete(m, f)
			}
		}
	}
	if strings.HasPrefix(path, "/v1/cluster/raft") {
		if m, ok := v.(map[string]any); ok {
			for _, f := range volatileRaftFields {
				delete(m, f)
			}
			if srvs, ok := m["servers"].([]any); ok {
				for _, s := range srvs {
					if sm, ok := s.(map[string]any); ok {
						delete(sm, "address")
					}
				}
			}
		}
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return out, nil
}

// doRead performs r against addr and returns its status and normalised
// body.
func doRead(ctx context.Context, cl *Client, addr string, r compatRead) (int, json.RawMessage, error) {
	var body any
	if len(r.Body) > 0 {
		body = r.Body
	}
	resp, err := cl.Do(ctx, r.Method, addr, r.Path, body)
	if err != nil {
		return 0, nil, err
	}
	norm, err := normaliseRead(r.Path, resp.Body)
	if err != nil {
		return resp.Status, nil, err
	}
	return resp.Status, norm, nil
}

// expectedAt is the answer today's code gives for r at time now. Every
// read's golden answer holds at any later time but one kind: a session
// verification of a token that was valid or revoked when the golden was
// taken answers "expired" once the token's expires_at has passed
// (verification checks expiry before revocation and bans). Every other
// expiry in the state is either long past or decades away (bans of 50
// years, keys and tokens of up to 10 years, which reads list but do not
// filter), so those answers never change with time.
func expectedAt(r compatRead, now time.Time) (json.RawMessage, error) {
	if r.Path != verifyPath || r.Status != http.StatusOK {
		return r.Response, nil
	}
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Response))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	exp, _ := v["expires_at"].(string)
	if exp == "" || v["reason"] == "invalid" || v["reason"] == "expired" {
		return r.Response, nil
	}
	t, err := time.Parse(time.RFC3339Nano, exp)
	if err != nil {
		return nil, err
	}
	if now.Before(t.Add(2 * time.Second)) { // margin: the node's clock reads after ours
		return r.Response, nil
	}
	v["valid"], v["reason"] = false, "expired"
	return json.MarshalIndent(v, "", "  ")
}

// verifyPath is the one read that is a POST.
const verifyPath = "/v1/sessions/verify"

// loadCompatGolden reads the manifest and every golden read.
func loadCompatGolden(t *testing.T) (compatManifest, []compatRead) {
	t.Helper()
	var m compatManifest
	b, err := os.ReadFile(filepath.Join(compatDir, "manifest.json"))
	if err != nil {
		t.Fatalf("compat testdata missing (regenerate with CASSNET_GEN_COMPAT=1, see compat_gen_test.go): %v", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(compatDir, "golden", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var reads []compatRead
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r compatRead
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// The file nests the body one level deeper; bring it back to
		// the canonical form doRead gives.
		if r.Response, err = normaliseRead(r.Path, r.Response); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		reads = append(reads, r)
	}
	if len(reads) != len(m.Reads) {
		t.Fatalf("manifest lists %d reads, golden/ holds %d files", len(m.Reads), len(reads))
	}
	return m, reads
}

// goldenFile names the golden file of the i-th read.
func goldenFile(i int, name string) string {
	return filepath.Join(compatDir, "golden", fmt.Sprintf("%03d-%s.json", i, name))
}

// extractTarGz unpacks a .tar.gz made by writeTarGz into dir.
func extractTarGz(src, dir string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("unsafe path %q in %s", h.Name, src)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o700|0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, tr); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected entry %q (type %c) in %s", h.Name, h.Typeflag, src)
		}
	}
}

// rewritePorts gives the node.json of a data dir fresh ports on its own
// bind address, so the restored node does not listen on the ports the
// generator happened to get. node.json is node-local configuration, not
// replicated state; the agent is then started with only --data-dir.
func rewritePorts(dataDir string, p Ports) error {
	path := filepath.Join(dataDir, "node.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	m["gossip_port"], m["raft_port"], m["p2p_port"], m["grpc_port"], m["http_port"] = p.Gossip, p.Raft, p.P2P, p.GRPC, p.HTTP
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o600)
}

// diffLines describes how got differs from want, line by line, with a
// little context: enough to see which field moved.
func diffLines(want, got []byte) string {
	w := strings.Split(string(want), "\n")
	g := strings.Split(string(got), "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "first difference at line %d (want %d lines, got %d):\n", i+1, len(w), len(g))
	lo := max(0, i-3)
	for k := lo; k < min(i+4, len(w)); k++ {
		mark := " "
		if k >= i {
			mark = "-"
		}
		fmt.Fprintf(&sb, "  want%s %s\n", mark, w[k])
	}
	for k := lo; k < min(i+4, len(g)); k++ {
		mark := " "
		if k >= i {
			mark = "+"
		}
		fmt.Fprintf(&sb, "  got %s %s\n", mark, g[k])
	}
	return sb.String()
}

// TestCompatDataDir starts the binary under test on the data dir commit
// e8364f0 wrote (a snapshot and log entries after it), as an operator
// would after an upgrade (only --data-dir), and asserts that every REST
// read answers exactly what e8364f0 answered, with the same applied index
// and state hash, and that the restart applied nothing.
func TestCompatDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real agent process")
	}
	m, reads := loadCompatGolden(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	dir := t.TempDir()
	dataDir := filepath.Join(dir, "n1")
	if err := extractTarGz(filepath.Join(compatDir, "datadir.tar.gz"), dataDir); err != nil {
		t.Fatal(err)
	}
	ports, err := FreePorts("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := rewritePorts(dataDir, ports); err != nil {
		t.Fatal(err)
	}
	admin, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{Name: "n1", IP: "127.0.0.1", DataDir: dataDir, Ports: ports, bin: binPath,
		logPath: filepath.Join(dir, "n1.log")}
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = n.Kill()
		if t.Failed() {
			if b, err := os.ReadFile(n.LogPath()); err == nil {
				t.Logf("==== agent log (last 6000 bytes) ====\n%s", tail(b, 6000))
			}
		}
		if races, _ := filepath.Glob(filepath.Join(dir, "*.race*")); len(races) > 0 {
			for _, r := range races {
				b, _ := os.ReadFile(r)
				t.Errorf("data race reported by the agent (%s):\n%s", r, b)
			}
		}
	})
	cl := NewClient(strings.TrimSpace(string(admin)))
	start := time.Now()
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	err = WaitFor(wctx, func() error {
		if !n.Running() {
			return fmt.Errorf("agent exited (log %s)", n.LogPath())
		}
		if err := WaitVoters(wctx, cl, []*Node{n}, 1); err != nil {
			return err
		}
		info, err := cl.Raft(wctx, n)
		if err != nil {
			return err
		}
		if info.AppliedIndex < m.AppliedIndex {
			return fmt.Errorf("applied index %d, want %d", info.AppliedIndex, m.AppliedIndex)
		}
		return nil
	})
	wcancel()
	if err != nil {
		t.Fatalf("the restored node did not become ready: %v", err)
	}
	t.Logf("restored node ready and caught up in %s", time.Since(start).Round(time.Millisecond))

	check := func(pass string) {
		now := time.Now()
		failed := 0
		for _, r := range reads {
			status, got, err := doRead(ctx, cl, n.HTTPAddr(), r)
			if err != nil {
				t.Errorf("%s %s %s: %v", r.Name, r.Method, r.Path, err)
				failed++
				continue
			}
			want, err := expectedAt(r, now)
			if err != nil {
				t.Fatal(err)
			}
			if status != r.Status || !bytes.Equal(got, want) {
				failed++
				t.Errorf("%s: %s %s answers differently from e8364f0 (%s):\nstatus %d, want %d\n%s",
					r.Name, r.Method, r.Path, pass, status, r.Status, diffLines(want, got))
			}
		}
		t.Logf("%s: %d reads compared, %d differ", pass, len(reads), failed)
	}
	check("first pass")

	info, err := cl.Raft(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	checkUpgradeIndex(t, "first pass", info, m)
	if info.ID != m.NodeID {
		t.Errorf("node id %q, want %q from the data dir", info.ID, m.NodeID)
	}

	// A second restart: the node now starts from what the binary under
	// test wrote itself (its own Raft entries and, possibly, snapshot).
	if err := n.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel = context.WithTimeout(ctx, 60*time.Second)
	err = WaitFor(wctx, func() error {
		if err := WaitVoters(wctx, cl, []*Node{n}, 1); err != nil {
			return err
		}
		info, err := cl.Raft(wctx, n)
		if err != nil {
			return err
		}
		if info.AppliedIndex < m.AppliedIndex {
			return fmt.Errorf("applied index %d, want %d", info.AppliedIndex, m.AppliedIndex)
		}
		return nil
	})
	wcancel()
	if err != nil {
		t.Fatalf("the node did not come back after a second restart: %v", err)
	}
	check("after a second restart")
	info, err = cl.Raft(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	checkUpgradeIndex(t, "after a second restart", info, m)
}

// TestCompatGoldenAfterExpiry checks expectedAt, the one allowance for
// time in TestCompatDataDir: long after the goldens were taken, every
// verification that answered ok, revoked or banned answers expired, with
// the same claims, and every other read is unchanged.
func TestCompatGoldenAfterExpiry(t *testing.T) {
	m, reads := loadCompatGolden(t)
	later := m.GeneratedAt.Add(40 * 24 * time.Hour) // past max_session_ttl (30 days)
	changed := 0
	for _, r := range reads {
		got, err := expectedAt(r, later)
		if err != nil {
			t.Fatal(err)
		}
		now, err := expectedAt(r, m.GeneratedAt)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(now, r.Response) {
			t.Errorf("%s: expectedAt changes the golden at the time it was taken", r.Name)
		}
		if bytes.Equal(got, r.Response) {
			continue
		}
		changed++
		var before, after map[string]any
		if err := json.Unmarshal(r.Response, &before); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &after); err != nil {
			t.Fatal(err)
		}
		if r.Path != verifyPath || after["reason"] != "expired" || after["valid"] != false {
			t.Errorf("%s: unexpected change after expiry: %s", r.Name, got)
		}
		for _, k := range []string{"player_id", "tenant_id", "project_id", "session_id", "expires_at"} {
			if before[k] != after[k] {
				t.Errorf("%s: %s changed from %v to %v", r.Name, k, before[k], after[k])
			}
		}
	}
	if changed == 0 {
		t.Error("no verification golden would change after expiry; the goldens lack long-lived tokens")
	}
	t.Logf("%d of %d goldens become \"expired\" 40 days after generation", changed, len(reads))
}

// checkUpgradeIndex asserts the state hash is e8364f0's and that the node
// applied nothing but, at most, the entry that raises the state version (a
// one-node cluster raises it as soon as it leads).
func checkUpgradeIndex(t *testing.T, pass string, info RaftInfo, m compatManifest) {
	t.Helper()
	if info.StateHash != m.StateHash {
		t.Errorf("%s: state hash %s, want %s", pass, info.StateHash, m.StateHash)
	}
	switch {
	case info.AppliedIndex == m.AppliedIndex && info.StateVersion <= 1:
	case info.AppliedIndex > m.AppliedIndex && info.StateVersion == consensus.SupportedStateVersion:
		// The SetStateVersion entry's Raft index (after the new leader's
		// no-op and configuration entries); the hash and the reads prove
		// it changed no data.
	default:
		t.Errorf("%s: applied index %d at state version %d, want %d at version 1, or more at version %d",
			pass, info.AppliedIndex, info.StateVersion, m.AppliedIndex, consensus.SupportedStateVersion)
	}
}

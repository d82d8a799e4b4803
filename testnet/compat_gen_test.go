package testnet

// The generator of testdata/compat-e8364f0 (see compat_test.go). It runs
// only when asked, with the binary of the commit the testdata is named
// after:
//
//	git worktree add /tmp/e8364f0 e8364f0   # or check the commit out
//	go build -o /tmp/cassnet-e8364f0 ./cmd/cassnet
//	CASSNET_GEN_COMPAT=1 CASSNET_BIN=/tmp/cassnet-e8364f0 \
//	    go test ./testnet/ -run '^TestGenerateCompatData$' -v -count=1 -timeout 10m
//
// It starts a one-node cluster with a small snapshot threshold, writes
// every kind of replicated state through the REST API, makes sure the last
// snapshot is followed by a few hundred log entries (so a restart restores
// the snapshot and replays the log), records the answer of every REST
// read, stops the node and stores its data dir as datadir.tar.gz.

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Snapshot knobs of the generated node: a snapshot every 1024 entries,
// checked every second, so the bulk of the data is in a snapshot and the
// last few hundred entries only in the log.
var compatGenArgs = []string{
	"--raft-snapshot-threshold", "1024", "--raft-trailing-logs", "128", "--raft-snapshot-interval", "1s",
}

const (
	longBan   = int64(50 * 365 * 24 * 3600) // expires decades after generation
	shortBan  = int64(1)                    // expired before the goldens are taken
	longCred  = int64(5 * 365 * 24 * 3600)  // keys and tokens with an expiry
	maxTTL    = 30 * 24 * 3600              // max_session_ttl_seconds after the settings change
	genWorker = 16
)

// gen writes through the REST API of one node and fails the test on any
// unexpected answer.
type gen struct {
	t    *testing.T
	ctx  context.Context
	cl   *Client
	addr string

	mu     sync.Mutex
	counts map[string]int
}

func (g *gen) count(what string, n int) {
	g.mu.Lock()
	g.counts[what] += n
	g.mu.Unlock()
}

// call sends one request and returns its decoded JSON body (nil if none).
func (g *gen) call(method, path string, body any, want int) map[string]any {
	g.t.Helper()
	resp, err := g.cl.Do(g.ctx, method, g.addr, path, body)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.Status != want {
		g.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.Status, resp.Body, want)
	}
	var out map[string]any
	if len(strings.TrimSpace(string(resp.Body))) > 0 && resp.Body[0] == '{' {
		if err := json.Unmarshal(resp.Body, &out); err != nil {
			g.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return out
}

// parallel runs n jobs on genWorker goroutines. Jobs must not call
// t.Fatal; they return an error instead.
func (g *gen) parallel(n int, job func(i int) error) {
	g.t.Helper()
	var wg sync.WaitGroup
	jobs := make(chan int)
	errs := make(chan error, n)
	for range genWorker {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := job(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		g.t.Fatal(err)
	}
}

// try is call for parallel jobs.
func (g *gen) try(method, path string, body any, want int) (map[string]any, error) {
	resp, err := g.cl.Do(g.ctx, method, g.addr, path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.Status != want {
		return nil, fmt.Errorf("%s %s: %d %s, want %d", method, path, resp.Status, resp.Body, want)
	}
	var out map[string]any
	if len(resp.Body) > 0 && resp.Body[0] == '{' {
		if err := json.Unmarshal(resp.Body, &out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// genBan is a ban the generator made, by kind.
type genBan struct {
	ID, Tenant, Project, Player, Kind string
	Revoked                           bool
}

func randSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "ses_" + hex.EncodeToString(b[:])
}

// snapshotIndex is the highest index among the node's Raft snapshots (0
// if none), from raft/snapshots/*/meta.json.
func snapshotIndex(dataDir string) (uint64, error) {
	metas, err := filepath.Glob(filepath.Join(dataDir, "raft", "snapshots", "*", "meta.json"))
	if err != nil {
		return 0, err
	}
	var best uint64
	for _, m := range metas {
		b, err := os.ReadFile(m)
		if err != nil {
			continue // being written
		}
		var meta struct{ Index uint64 }
		if json.Unmarshal(b, &meta) == nil && meta.Index > best {
			best = meta.Index
		}
	}
	return best, nil
}

// writeTarGz stores dir as a gzipped tar with stable order, modes and
// times, so regenerating from the same files gives the same archive.
func writeTarGz(dir, dst string) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	zw, _ := gzip.NewWriterLevel(out, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		switch {
		case fi.IsDir():
			h.Typeflag, h.Mode, h.Name = tar.TypeDir, 0o700, h.Name+"/"
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o600, int64(len(b))
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := tw.Write(b); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: not a file or directory", p)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return out.Close()
}

func TestGenerateCompatData(t *testing.T) {
	if os.Getenv("CASSNET_GEN_COMPAT") != "1" {
		t.Skip("regenerates testdata/compat-e8364f0; set CASSNET_GEN_COMPAT=1 and CASSNET_BIN to the e8364f0 binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	dir := t.TempDir()
	c, err := NewCluster(Config{Bin: binPath, Dir: dir, AgentArgs: compatGenArgs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Shutdown()
		if t.Failed() {
			for _, nd := range c.Nodes() {
				if b, err := os.ReadFile(nd.LogPath()); err == nil {
					t.Logf("==== %s log (last 6000 bytes) ====\n%s", nd.Name, tail(b, 6000))
				}
			}
		}
	})
	n, err := c.AddNode(ctx, "n1", "127.0.0.1", "--voters", "1")
	if err != nil {
		t.Fatal(err)
	}
	cl := NewClient(c.AdminToken())
	waitVoters(t, ctx, cl, []*Node{n}, 1)
	g := &gen{t: t, ctx: ctx, cl: cl, addr: n.HTTPAddr(), counts: map[string]int{}}

	// Settings first: sessions may then last 30 days, and the audit log
	// keeps fewer entries than the commands written, so it is trimmed.
	g.call("PUT", "/v1/cluster/settings", map[string]any{"audit_retention": 3000, "max_session_ttl_seconds": maxTTL}, 200)
	g.count("settings_changes", 1)

	tenants := []string{"studio-a", "studio-b", "studio-c", "doomed", "empty-studio"}
	projects := map[string][]string{
		"studio-a": {"alpha", "beta", "gamma"},
		"studio-b": {"racer", "racer-2"},
		"studio-c": {"puzzle"},
		"doomed":   {"cancelled"},
	}
	for _, tn := range tenants {
		g.call("POST", "/v1/tenants", map[string]any{"name": tn}, 201)
		g.count("tenants", 1)
		for _, p := range projects[tn] {
			g.call("POST", "/v1/tenants/"+tn+"/projects", map[string]any{"name": p}, 201)
			g.count("projects", 1)
		}
	}

	// Session tokens signed by the bootstrap key (K0), before any rotation.
	tokens := map[string]string{} // name -> token
	session := func(name, tenant, player, project string, ttl int64) map[string]any {
		body := map[string]any{"player_id": player, "ttl_seconds": ttl}
		if project != "" {
			body["project_id"] = project
		}
		out := g.call("POST", "/v1/tenants/"+tenant+"/sessions", body, 201)
		tokens[name] = out["token"].(string)
		return out
	}
	session("k0-ok", "studio-a", "vk0-ok", "", maxTTL)
	session("k0-expired", "studio-a", "vk0-exp", "", 1)

	// Bans: ten kinds, spread over the tenants by weight.
	kinds := []string{"perm", "perm", "perm", "perm-project", "perm-project", "long", "long-project", "short", "short-project", "perm"}
	var bansMu sync.Mutex
	var bans []genBan
	banWeights := map[string]int{"studio-a": 450, "studio-b": 330, "studio-c": 160, "doomed": 60}
	type banJob struct {
		tenant string
		i      int
	}
	var banJobs []banJob
	for _, tn := range []string{"studio-a", "studio-b", "studio-c", "doomed"} {
		for i := range banWeights[tn] {
			banJobs = append(banJobs, banJob{tn, i})
		}
	}
	makeBan := func(tn string, i int, kind, player string) error {
		body := map[string]any{"player_id": player, "reason": fmt.Sprintf("%s ban %d", kind, i)}
		project := ""
		if strings.HasSuffix(kind, "-project") {
			project = projects[tn][i%len(projects[tn])]
			body["project_id"] = project
		}
		switch {
		case strings.HasPrefix(kind, "long"):
			body["duration_seconds"] = longBan
		case strings.HasPrefix(kind, "short"):
			body["duration_seconds"] = shortBan
		case i%20 == 0:
			body["duration_seconds"] = 0 // explicit permanent
		}
		out, err := g.try("POST", "/v1/tenants/"+tn+"/bans", body, 201)
		if err != nil {
			return err
		}
		bansMu.Lock()
		bans = append(bans, genBan{ID: out["id"].(string), Tenant: tn, Project: project, Player: player, Kind: kind})
		bansMu.Unlock()
		g.count("bans", 1)
		return nil
	}
	g.parallel(len(banJobs), func(k int) error {
		j := banJobs[k]
		// 300 players a tenant at most: some players have several bans.
		return makeBan(j.tenant, j.i, kinds[j.i%len(kinds)], fmt.Sprintf("p%04d", j.i%300))
	})
	// Revoke about one ban in nine, of every kind.
	sort.Slice(bans, func(i, j int) bool { return bans[i].ID < bans[j].ID })
	var revokeIdx []int
	for i := range bans {
		if i%9 == 0 {
			revokeIdx = append(revokeIdx, i)
		}
	}
	g.parallel(len(revokeIdx), func(k int) error {
		b := &bans[revokeIdx[k]]
		if _, err := g.try("DELETE", "/v1/tenants/"+b.Tenant+"/bans/"+b.ID, nil, 200); err != nil {
			return err
		}
		b.Revoked = true
		g.count("bans_revoked", 1)
		return nil
	})

	// API keys: at least 20 of each role, some expiring, some scoped to a
	// project, a few revoked.
	roles := []string{"tenant-admin", "game-server", "read-only"}
	keyTenants := []string{"studio-a", "studio-a", "studio-b", "studio-c", "doomed", "studio-a", "studio-b", "studio-b"}
	type genKey struct{ ID, Tenant, Role, Key string }
	var keysMu sync.Mutex
	var keys []genKey
	g.parallel(3*24, func(i int) error {
		role := roles[i%3]
		tn := keyTenants[(i/3)%len(keyTenants)]
		body := map[string]any{"name": fmt.Sprintf("%s-%02d", role, i/3), "role": role}
		if role == "game-server" && i%2 == 0 {
			body["project_id"] = projects[tn][i%len(projects[tn])]
		}
		if i%4 == 1 {
			body["ttl_seconds"] = longCred
		}
		out, err := g.try("POST", "/v1/tenants/"+tn+"/keys", body, 201)
		if err != nil {
			return err
		}
		keysMu.Lock()
		keys = append(keys, genKey{ID: out["id"].(string), Tenant: tn, Role: role, Key: out["key"].(string)})
		keysMu.Unlock()
		g.count("keys_"+role, 1)
		return nil
	})
	sort.Slice(keys, func(i, j int) bool { return keys[i].ID < keys[j].ID })
	for _, k := range keys[:4] {
		g.call("DELETE", "/v1/tenants/"+k.Tenant+"/keys/"+k.ID, nil, 204)
		g.count("keys_revoked", 1)
	}

	// Operator tokens: with and without expiry, one revoked.
	var opTokens []string
	for i, ttl := range []int64{0, longCred, 365 * 24 * 3600, 0, 10 * 365 * 24 * 3600} {
		out := g.call("POST", "/v1/auth/operator-tokens", map[string]any{"name": fmt.Sprintf("ops-%d", i), "ttl_seconds": ttl}, 201)
		opTokens = append(opTokens, out["id"].(string))
		g.count("operator_tokens", 1)
	}
	g.call("DELETE", "/v1/auth/operator-tokens/"+opTokens[3], nil, 204)
	g.count("operator_tokens_revoked", 1)

	// The first rotation: K0 retires, K1 signs. Then sessions signed by K1
	// for each verification outcome.
	g.call("POST", "/v1/auth/keys/rotate", nil, 200)
	g.count("signing_key_rotations", 1)
	session("k1-ok", "studio-a", "vk1-ok", "", maxTTL)
	session("k1-ok-project", "studio-a", "vk1-okp", "alpha", maxTTL)
	rs := session("k1-session-revoked", "studio-a", "vk1-srev", "", maxTTL)
	session("k1-player-revoked", "studio-b", "vk1-prev", "", maxTTL)
	session("k1-player-revoked-project", "studio-b", "vk1-prevp", "racer", maxTTL)
	session("k1-player-revoked-other-project", "studio-b", "vk1-prevp", "racer-2", maxTTL)
	session("k1-banned", "studio-c", "vk1-ban", "", maxTTL)
	session("k1-expired", "studio-c", "vk1-exp", "", 1)
	g.call("DELETE", "/v1/tenants/studio-a/sessions/"+rs["session_id"].(string), nil, 204)
	g.call("DELETE", "/v1/tenants/studio-b/players/vk1-prev/sessions", nil, 204)
	g.call("DELETE", "/v1/tenants/studio-b/players/vk1-prevp/sessions?project_id=racer", nil, 204)
	g.call("POST", "/v1/tenants/studio-c/bans", map[string]any{"player_id": "vk1-ban", "reason": "banned after issue"}, 201)
	g.count("session_revocations", 1)
	g.count("player_revocations", 2)
	g.count("bans", 1)

	// Revocations in bulk: sessions by ID and players, tenant-wide and
	// by project.
	revTenants := []string{"studio-a", "studio-b", "studio-c", "studio-a", "doomed"}
	g.parallel(1000, func(i int) error {
		tn := revTenants[i%len(revTenants)]
		if _, err := g.try("DELETE", "/v1/tenants/"+tn+"/sessions/"+randSessionID(), nil, 204); err != nil {
			return err
		}
		g.count("session_revocations", 1)
		return nil
	})
	g.parallel(1000, func(i int) error {
		tn := revTenants[i%len(revTenants)]
		path := fmt.Sprintf("/v1/tenants/%s/players/rp%04d/sessions", tn, i)
		if i%3 == 0 {
			path += "?project_id=" + projects[tn][i%len(projects[tn])]
		}
		if _, err := g.try("DELETE", path, nil, 204); err != nil {
			return err
		}
		g.count("player_revocations", 1)
		return nil
	})

	// Gossip keyring: install a second key and make it primary.
	gk1 := make([]byte, 32)
	_, _ = rand.Read(gk1)
	g.call("POST", "/v1/cluster/keyring", map[string]any{"action": "install", "key": gk1}, 200)
	g.call("POST", "/v1/cluster/keyring", map[string]any{"action": "use", "key": gk1}, 200)
	g.count("keyring_changes", 2)

	// Join tokens: with and without expiry, one revoked.
	var joinIDs []string
	for _, ttl := range []int64{0, 365 * 24 * 3600, 0} {
		out := g.call("POST", "/v1/cluster/join-tokens", map[string]any{"ttl_seconds": ttl}, 201)
		joinIDs = append(joinIDs, out["id"].(string))
		g.count("join_tokens", 1)
	}
	g.call("DELETE", "/v1/cluster/join-tokens/"+joinIDs[2], nil, 204)
	g.count("join_tokens_revoked", 1)

	// An API key in use (TouchApiKeys sets last_used_at within a minute)
	// and an unknown credential (RecordAuthFailures audits it within 10 s).
	var touched genKey
	for _, k := range keys[4:] {
		if k.Role == "read-only" && k.Tenant == "studio-a" {
			touched = k
			break
		}
	}
	keyClient := NewClient(touched.Key)
	if r, err := keyClient.Do(ctx, "GET", n.HTTPAddr(), "/v1/tenants/studio-a/projects", nil); err != nil || r.Status != 200 {
		t.Fatalf("use of an API key: %v %v", r, err)
	}
	bogus := NewClient("cn_op_bogus_compat_0000000000000000")
	if r, err := bogus.Do(ctx, "GET", n.HTTPAddr(), "/v1/tenants", nil); err != nil || r.Status != http.StatusUnauthorized {
		t.Fatalf("unknown credential: %v %v", r, err)
	}

	// Wait for a snapshot that holds (nearly) everything so far, writing
	// slowly so the log since it stays short.
	s0, err := snapshotIndex(n.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	filler := 0
	for {
		info, err := cl.Raft(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := snapshotIndex(n.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		if snap > s0 && info.AppliedIndex-snap < 300 {
			t.Logf("snapshot at %d, applied %d: the tail begins", snap, info.AppliedIndex)
			break
		}
		base := filler * 8
		filler++
		g.parallel(8, func(i int) error {
			return makeBan("studio-c", 1000+base+i, "perm", fmt.Sprintf("filler-%05d", base+i))
		})
		time.Sleep(100 * time.Millisecond)
		if ctx.Err() != nil {
			t.Fatal("no snapshot was taken")
		}
	}
	snapAtTail, _ := snapshotIndex(n.DataDir)

	// The tail: written after the last snapshot, so a restart replays it
	// from the log. It has a bit of everything, the tenant deletion and
	// the second rotation included.
	g.call("POST", "/v1/auth/keys/rotate", nil, 200) // K1 retires, K2 signs
	g.count("signing_key_rotations", 1)
	session("k2-ok", "studio-a", "vk2-ok", "beta", maxTTL)
	session("doomed-session", "doomed", "vd-ok", "", maxTTL)
	g.call("DELETE", "/v1/tenants/doomed", nil, 204)
	g.count("tenants_deleted", 1)
	g.call("POST", "/v1/tenants", map[string]any{"name": "late-studio"}, 201)
	g.call("POST", "/v1/tenants/late-studio/projects", map[string]any{"name": "sequel"}, 201)
	g.count("tenants", 1)
	g.count("projects", 1)
	projects["late-studio"] = []string{"sequel"}
	g.parallel(40, func(i int) error {
		tn := []string{"studio-a", "late-studio"}[i%2]
		return makeBan(tn, 2000+i, kinds[i%len(kinds)], fmt.Sprintf("tail%03d", i%25))
	})
	var tailRevoke []genBan
	for _, b := range bans {
		if !b.Revoked && b.Tenant == "studio-b" && len(tailRevoke) < 12 {
			tailRevoke = append(tailRevoke, b)
		}
	}
	for _, b := range tailRevoke {
		g.call("DELETE", "/v1/tenants/"+b.Tenant+"/bans/"+b.ID, nil, 200)
		g.count("bans_revoked", 1)
	}
	for i := range bans {
		for _, b := range tailRevoke {
			if bans[i].ID == b.ID {
				bans[i].Revoked = true
			}
		}
	}
	for _, k := range keys[4:8] {
		if k.Tenant != "doomed" {
			g.call("DELETE", "/v1/tenants/"+k.Tenant+"/keys/"+k.ID, nil, 204)
			g.count("keys_revoked", 1)
		}
	}
	g.parallel(40, func(i int) error {
		g.count("session_revocations", 1)
		_, err := g.try("DELETE", "/v1/tenants/studio-c/sessions/"+randSessionID(), nil, 204)
		return err
	})
	g.parallel(40, func(i int) error {
		g.count("player_revocations", 1)
		_, err := g.try("DELETE", fmt.Sprintf("/v1/tenants/late-studio/players/tailrp%02d/sessions", i), nil, 204)
		return err
	})
	g.call("PUT", "/v1/cluster/settings", map[string]any{"audit_retention": 2500}, 200)
	g.count("settings_changes", 1)
	out := g.call("POST", "/v1/auth/operator-tokens", map[string]any{"name": "ops-late"}, 201)
	_ = out
	g.count("operator_tokens", 1)
	out = g.call("POST", "/v1/cluster/join-tokens", map[string]any{"ttl_seconds": 0}, 201)
	g.call("DELETE", "/v1/cluster/join-tokens/"+joinIDs[0], nil, 204)
	g.count("join_tokens", 1)
	g.count("join_tokens_revoked", 1)
	_ = out

	// Wait for the background writes (the key touch, the auth failure
	// record) and for the short bans and tokens to expire, then for the
	// state to be still.
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Minute)
	err = WaitFor(wctx, func() error {
		var kl struct {
			Keys []struct {
				ID         string  `json:"id"`
				LastUsedAt *string `json:"last_used_at"`
			} `json:"keys"`
		}
		r, err := cl.Do(wctx, "GET", n.HTTPAddr(), "/v1/tenants/studio-a/keys", nil)
		if err != nil {
			return err
		}
		if err := r.JSON(&kl); err != nil {
			return err
		}
		for _, k := range kl.Keys {
			if k.ID == touched.ID && k.LastUsedAt != nil {
				return nil
			}
		}
		return fmt.Errorf("key %s not touched yet", touched.ID)
	})
	wcancel()
	if err != nil {
		t.Fatal(err)
	}
	g.count("key_touches", 1)
	var last RaftInfo
	stillSince := time.Now()
	for time.Since(stillSince) < 12*time.Second {
		info, err := cl.Raft(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if info.AppliedIndex != last.AppliedIndex {
			last, stillSince = info, time.Now()
		}
		time.Sleep(500 * time.Millisecond)
	}
	if snap, _ := snapshotIndex(n.DataDir); snap != snapAtTail {
		t.Fatalf("a snapshot was taken during the tail (at %d, was %d); raise the threshold", snap, snapAtTail)
	}

	// Every read of the state.
	var reads []compatRead
	add := func(name, method, path string, body any) {
		r := compatRead{Name: name, Method: method, Path: path}
		if body != nil {
			b, _ := json.Marshal(body)
			r.Body = b
		}
		reads = append(reads, r)
	}
	get := func(name, path string) { add(name, "GET", path, nil) }
	get("cluster-raft", "/v1/cluster/raft")
	get("cluster-settings", "/v1/cluster/settings")
	get("cluster-settings-stale", "/v1/cluster/settings?stale")
	get("cluster-settings-consistent", "/v1/cluster/settings?consistent")
	get("cluster-keyring", "/v1/cluster/keyring")
	get("cluster-join-tokens", "/v1/cluster/join-tokens")
	get("audit", "/v1/audit")
	get("audit-limit-1", "/v1/audit?limit=1")
	get("audit-limit-capped", "/v1/audit?limit=100000")
	get("audit-limit-bad", "/v1/audit?limit=0")
	get("operator-tokens", "/v1/auth/operator-tokens")
	get("jwks", "/v1/auth/jwks.json")
	get("tenants", "/v1/tenants")
	get("tenants-stale", "/v1/tenants?stale")
	allTenants := []string{"studio-a", "studio-b", "studio-c", "empty-studio", "late-studio", "doomed", "never-existed"}
	for _, tn := range allTenants {
		p := "/v1/tenants/" + tn
		get("tenant-"+tn, p)
		get("projects-"+tn, p+"/projects")
		get("bans-"+tn, p+"/bans")
		get("bans-active-"+tn, p+"/bans?active=true")
		if tn != "studio-a" && tn != "studio-b" { // the same as bans-<tenant>; kept small
			get("bans-inactive-filter-"+tn, p+"/bans?active=false")
		}
		get("keys-"+tn, p+"/keys")
		get("audit-"+tn, p+"/audit?limit=1000")
		get("audit-default-"+tn, p+"/audit")
		get("audit-limit-7-"+tn, p+"/audit?limit=7")
	}
	get("bans-consistent-late-studio", "/v1/tenants/late-studio/bans?consistent")
	get("bans-stale-late-studio", "/v1/tenants/late-studio/bans?stale")
	get("bans-active-bad", "/v1/tenants/studio-a/bans?active=maybe")
	get("servers-studio-a", "/v1/tenants/studio-a/servers")

	// Ban reads by player and by ID, for every kind and state of ban.
	byKind := map[string][]genBan{}
	for _, b := range bans {
		k := b.Kind
		if b.Revoked {
			k += "-revoked"
		}
		byKind[b.Tenant+"/"+k] = append(byKind[b.Tenant+"/"+k], b)
	}
	var kindKeys []string
	for k := range byKind {
		kindKeys = append(kindKeys, k)
	}
	sort.Strings(kindKeys)
	for _, k := range kindKeys {
		bs := byKind[k]
		sort.Slice(bs, func(i, j int) bool { return bs[i].ID < bs[j].ID })
		for j, b := range bs[:min(2, len(bs))] {
			label := strings.ReplaceAll(k, "/", "-") + fmt.Sprintf("-%d", j)
			p := "/v1/tenants/" + b.Tenant
			get("ban-"+label, p+"/bans/"+b.ID)
			get("bans-player-"+label, p+"/bans?player_id="+b.Player)
			get("bans-player-active-"+label, p+"/bans?player_id="+b.Player+"&active=true")
			get("bancheck-"+label, p+"/players/"+b.Player+"/ban")
			get("bancheck-default-"+label, p+"/players/"+b.Player+"/ban?default")
			for _, pr := range projects[b.Tenant] {
				get("bancheck-"+label+"-in-"+pr, p+"/players/"+b.Player+"/ban?project_id="+pr)
			}
		}
	}
	get("bancheck-unbanned", "/v1/tenants/studio-a/players/nobody/ban")
	get("bancheck-unknown-project", "/v1/tenants/studio-a/players/p0001/ban?project_id=nope")
	get("bancheck-vk1-ban", "/v1/tenants/studio-c/players/vk1-ban/ban")
	get("ban-unknown", "/v1/tenants/studio-a/bans/ban_doesnotexist")

	// Session verification: tokens of the bootstrap key and of the key
	// retired by the first rotation (both retired now), and of the active
	// key; one per outcome.
	var tokNames []string
	for name := range tokens {
		tokNames = append(tokNames, name)
	}
	sort.Strings(tokNames)
	for _, name := range tokNames {
		add("verify-"+name, "POST", verifyPath, map[string]any{"token": tokens[name]})
	}
	add("verify-garbage", "POST", verifyPath, map[string]any{"token": "not.a.token"})
	tamperedTok := tokens["k1-ok"]
	tamperedTok = tamperedTok[:len(tamperedTok)-4] + "AAAA"
	add("verify-bad-signature", "POST", verifyPath, map[string]any{"token": tamperedTok})

	// Take the goldens.
	golden := filepath.Join(compatDir, "golden")
	if err := os.RemoveAll(golden); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(golden, 0o755); err != nil {
		t.Fatal(err)
	}
	var names []string
	seen := map[string]bool{}
	for i := range reads {
		r := &reads[i]
		if seen[r.Name] {
			t.Fatalf("duplicate read name %s", r.Name)
		}
		seen[r.Name] = true
		status, body, err := doRead(ctx, cl, n.HTTPAddr(), *r)
		if err != nil {
			t.Fatal(err)
		}
		r.Status, r.Response = status, body
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenFile(i, r.Name), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, r.Name)
	}
	info, err := cl.Raft(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	var lastIndex struct {
		LastIndex uint64 `json:"last_index"`
	}
	if r, err := cl.Do(ctx, "GET", n.HTTPAddr(), "/v1/cluster/raft", nil); err != nil || r.JSON(&lastIndex) != nil {
		t.Fatalf("raft info: %v", err)
	}
	if info.AppliedIndex != last.AppliedIndex {
		t.Fatalf("the state moved while the goldens were taken (%d -> %d)", last.AppliedIndex, info.AppliedIndex)
	}

	// Stop the node (a sole server leaves nothing behind) and store its
	// data dir.
	if err := n.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	snap, err := snapshotIndex(n.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if snap == 0 || info.AppliedIndex-snap < 100 {
		t.Fatalf("want a snapshot followed by log entries; snapshot at %d, applied %d", snap, info.AppliedIndex)
	}
	man := compatManifest{
		Commit: "e8364f0", GeneratedAt: time.Now().UTC().Truncate(time.Second), NodeID: info.ID,
		StateHash: info.StateHash, AppliedIndex: info.AppliedIndex, LastIndex: lastIndex.LastIndex,
		SnapshotIndex: snap, Counts: g.counts, Reads: names,
	}
	b, _ := json.MarshalIndent(man, "", "  ")
	if err := os.WriteFile(filepath.Join(compatDir, "manifest.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeTarGz(n.DataDir, filepath.Join(compatDir, "datadir.tar.gz")); err != nil {
		t.Fatal(err)
	}
	t.Logf("compat data: %d reads, state hash %s at applied index %d, snapshot at %d, counts %v",
		len(reads), info.StateHash, info.AppliedIndex, snap, g.counts)
}

package ugctest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

// api is a REST caller with one credential.
type api struct {
	t    *testing.T
	cred string
	hc   *http.Client
}

func (a api) do(ctx context.Context, node *testnet.Node, method, path string, body any) (int, []byte, http.Header) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+node.HTTPAddr()+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.cred != "" {
		req.Header.Set("Authorization", "Bearer "+a.cred)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data, resp.Header
}

// must calls and checks the status, decoding the answer into out.
func (a api) must(ctx context.Context, node *testnet.Node, method, path string, body any, want int, out any) {
	a.t.Helper()
	code, data, _ := a.do(ctx, node, method, path, body)
	if code != want {
		a.t.Fatalf("%s %s on %s: %d %s, want %d", method, path, node.Name, code, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

type item struct {
	ID          string `json:"id"`
	Owner       string `json:"owner"`
	State       string `json:"state"`
	LiveVersion string `json:"live_version"`
	Downloads   uint64 `json:"downloads"`
}

type version struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Reason string `json:"reason"`
	SHA256 string `json:"sha256"`
	Holder string `json:"holder"`
}

type upload struct {
	VersionID string `json:"version_id"`
	UploadURL string `json:"upload_url"`
	Protocol  string `json:"protocol"`
}

func noRedirect() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func randomBytes(t *testing.T, n int) ([]byte, string) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

const base = "/v1/tenants/acme/projects/game/ugc"

// TestUGCPipeline: a player uploads to n1 (interrupted halfway, resumed),
// the version is published, found by tag and words on n3 and downloaded
// from n2 with the same sha256; another player cannot touch it; a wrong
// checksum is rejected; quotas hold; an abandoned upload expires.
func TestUGCPipeline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, _ := startCluster(t, ctx, 3)
	n := c.Nodes()
	op := api{t: t, cred: c.AdminToken(), hc: noRedirect()}
	op.must(ctx, n[0], "POST", "/v1/tenants", map[string]string{"name": "acme"}, 201, nil)
	op.must(ctx, n[0], "POST", "/v1/tenants/acme/projects", map[string]string{"name": "game"}, 201, nil)
	op.must(ctx, n[0], "POST", "/v1/tenants", map[string]string{"name": "bravo"}, 201, nil)
	op.must(ctx, n[0], "POST", "/v1/tenants/bravo/projects", map[string]string{"name": "game"}, 201, nil)
	player := func(tenant, id string) api {
		var s struct {
			Token string `json:"token"`
		}
		op.must(ctx, n[0], "POST", "/v1/tenants/"+tenant+"/sessions", map[string]string{"player_id": id}, 201, &s)
		return api{t: t, cred: s.Token, hc: noRedirect()}
	}
	p1, p2, stranger := player("acme", "p1"), player("acme", "p2"), player("bravo", "p1")

	var it item
	p1.must(ctx, n[0], "POST", base+"/items", map[string]any{"title": "Castle of Glass", "description": "A siege map",
		"tags": []string{"map", "siege"}, "metadata": map[string]string{"players": "16"}}, 201, &it)
	if it.Owner != "p1" || it.State != "draft" {
		t.Fatalf("item %+v", it)
	}
	data, sum := randomBytes(t, 3<<20)
	var up upload
	p1.must(ctx, n[0], "POST", base+"/items/"+it.ID+"/versions", map[string]any{"filename": "castle.zip", "size": len(data),
		"sha256": sum, "content_type": "application/zip"}, 201, &up)
	if up.Protocol != "tus" || !strings.Contains(up.UploadURL, n[0].HTTPAddr()) {
		t.Fatalf("upload %+v", up)
	}
	hc := &http.Client{Timeout: time.Minute}
	if err := testnet.TusUpload(ctx, hc, up.UploadURL, data, 256<<10, int64(len(data)/2)); err != nil {
		t.Fatalf("first half: %v", err)
	}
	if off, err := testnet.TusHead(ctx, hc, up.UploadURL); err != nil || off != int64(len(data)/2) {
		t.Fatalf("offset after the interruption: %d %v", off, err)
	}
	if err := testnet.TusUpload(ctx, hc, up.UploadURL, data, 1<<20, 0); err != nil {
		t.Fatalf("resume: %v", err)
	}
	firstVersion := up.VersionID
	// Published, seen from n2.
	waitFor(t, ctx, func() error {
		var got item
		p1.must(ctx, n[1], "GET", base+"/items/"+it.ID, nil, 200, &got)
		if got.LiveVersion != up.VersionID || got.State != "approved" {
			return fmt.Errorf("item on n2: %+v", got)
		}
		return nil
	})
	// Found on n3 by tag and words, as another player.
	var page struct {
		Items []item `json:"items"`
	}
	p2.must(ctx, n[2], "GET", base+"/items?tag=map&tag=siege&q=castle+glass", nil, 200, &page)
	if len(page.Items) != 1 || page.Items[0].ID != it.ID {
		t.Fatalf("query on n3: %+v", page)
	}
	p2.must(ctx, n[2], "GET", base+"/items?tag=map&q=nothing", nil, 200, &page)
	if len(page.Items) != 0 {
		t.Fatalf("q=nothing matched %+v", page)
	}
	// Downloaded from n2 (the bytes are on n1) with the same sha256.
	code, body, hdr := p2.do(ctx, n[1], "GET", base+"/items/"+it.ID+"/versions/"+up.VersionID+"/download", nil)
	if code != 302 {
		t.Fatalf("download: %d %s", code, body)
	}
	resp, err := hc.Get(hdr.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if h := sha256.Sum256(got); resp.StatusCode != 200 || hex.EncodeToString(h[:]) != sum {
		t.Fatalf("downloaded %d bytes (status %d), sha256 differs", len(got), resp.StatusCode)
	}
	// Another player, and another tenant's player.
	p2.must(ctx, n[1], "PATCH", base+"/items/"+it.ID, map[string]string{"title": "mine"}, 403, nil)
	p2.must(ctx, n[1], "DELETE", base+"/items/"+it.ID, nil, 403, nil)
	p2.must(ctx, n[1], "POST", base+"/items/"+it.ID+"/versions", map[string]any{"filename": "x.zip", "size": 1,
		"sha256": sum, "content_type": "application/zip"}, 403, nil)
	stranger.must(ctx, n[1], "GET", base+"/items/"+it.ID, nil, 404, nil)
	// A wrong checksum: rejected with a reason, nothing published.
	bad, _ := randomBytes(t, 64<<10)
	p1.must(ctx, n[1], "POST", base+"/items/"+it.ID+"/versions", map[string]any{"filename": "bad.zip", "size": len(bad),
		"sha256": sum, "content_type": "application/zip"}, 201, &up)
	_ = testnet.TusUpload(ctx, hc, up.UploadURL, bad, 0, 0) // the last PATCH may answer an error
	waitFor(t, ctx, func() error {
		var vs struct {
			Versions []version `json:"versions"`
		}
		p1.must(ctx, n[2], "GET", base+"/items/"+it.ID+"/versions", nil, 200, &vs)
		for _, v := range vs.Versions {
			if v.ID == up.VersionID {
				if v.State == "rejected" && v.Reason != "" {
					return nil
				}
				return fmt.Errorf("bad upload is %s", v.State)
			}
		}
		return fmt.Errorf("version %s not listed", up.VersionID)
	})
	// Quotas and an abandoned upload.
	op.must(ctx, n[2], "PUT", base+"/settings", map[string]any{"max_file_size": 1 << 20, "max_items_per_player": 2, "upload_ttl_seconds": 2}, 200, nil)
	p1.must(ctx, n[2], "POST", base+"/items/"+it.ID+"/versions", map[string]any{"filename": "big.zip", "size": 2 << 20,
		"sha256": sum, "content_type": "application/zip"}, 413, nil)
	var second item
	p1.must(ctx, n[2], "POST", base+"/items", map[string]any{"title": "Second"}, 201, &second)
	p1.must(ctx, n[2], "POST", base+"/items", map[string]any{"title": "Third"}, 429, nil)
	small, smallSum := randomBytes(t, 1000)
	p1.must(ctx, n[2], "POST", base+"/items/"+second.ID+"/versions", map[string]any{"filename": "a.zip", "size": len(small),
		"sha256": smallSum, "content_type": "application/zip"}, 201, &up)
	time.Sleep(3 * time.Second)
	op.must(ctx, n[0], "PATCH", base+"/items/"+second.ID, map[string]string{"description": "a write, so the leader prunes"}, 200, nil)
	waitFor(t, ctx, func() error {
		var vs struct {
			Versions []version `json:"versions"`
		}
		p1.must(ctx, n[1], "GET", base+"/items/"+second.ID+"/versions", nil, 200, &vs)
		if len(vs.Versions) != 1 || vs.Versions[0].State != "expired" {
			return fmt.Errorf("abandoned upload: %+v", vs.Versions)
		}
		return nil
	})
	if err := testnet.TusUpload(ctx, hc, up.UploadURL, small, 0, 0); err == nil {
		t.Fatal("an upload after its expiry was accepted")
	}
	// The owner deletes the item: gone on every node, and so is its download.
	p1.must(ctx, n[2], "DELETE", base+"/items/"+it.ID, nil, 204, nil)
	waitFor(t, ctx, func() error {
		for _, nd := range n {
			if code, _, _ := p2.do(ctx, nd, "GET", base+"/items/"+it.ID+"/versions/"+firstVersion+"/download", nil); code != 404 {
				return fmt.Errorf("download after delete on %s: %d", nd.Name, code)
			}
		}
		return nil
	})
	// And after the collector's pass (1 s), its bytes are gone from the
	// holder n1: no blob, no staged upload left under its data dir.
	waitFor(t, ctx, func() error {
		if left := stagedBytes(t, n[0].DataDir); len(left) > 0 {
			return fmt.Errorf("left on n1 after the item's deletion: %v", left)
		}
		return nil
	})
}

// stagedBytes lists the UGC byte files under a node's data dir: blobs, and
// staged uploads (the .json records of completed uploads stay until their
// expiry and hold no content).
func stagedBytes(t *testing.T, dataDir string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(dataDir, "ugc")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.HasSuffix(p, ".json") {
			out = append(out, strings.TrimPrefix(p, root+"/"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func waitFor(t *testing.T, ctx context.Context, cond func() error) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := testnet.WaitFor(wctx, cond); err != nil {
		t.Fatal(err)
	}
}

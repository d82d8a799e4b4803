package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/state/ugc"
	"github.com/cassandranet/cassnet/ugc/blob"
)

type ugcEnv struct {
	*harness
	admin, p1, p2, bravo string
}

func newUGCEnv(t *testing.T) *ugcEnv {
	t.Helper()
	h := newHarness(t)
	for _, tn := range []string{"acme", "bravo"} {
		h.createTenant(tn)
		h.createProject(tn, "rocket")
	}
	admin, _ := h.newKey("acme", "tenant-admin", "", 0)
	e := &ugcEnv{harness: h, admin: admin}
	e.p1 = h.issue(h.token, "acme", `{"player_id":"p1"}`).Token
	e.p2 = h.issue(h.token, "acme", `{"player_id":"p2"}`).Token
	e.bravo = h.issue(h.token, "bravo", `{"player_id":"p1"}`).Token
	return e
}

const ugcBase = "/v1/tenants/acme/projects/rocket/ugc"

func (e *ugcEnv) want(cred, method, path, body string, status int, contains string) string {
	e.t.Helper()
	rec := e.doAs(cred, method, path, body)
	if rec.Code != status || !strings.Contains(rec.Body.String(), contains) {
		e.t.Fatalf("%s %s: %d %s, want %d containing %q", method, path, rec.Code, rec.Body, status, contains)
	}
	return rec.Body.String()
}

func (e *ugcEnv) createItem(cred, body string) ugc.Item {
	e.t.Helper()
	e.clock.Advance(time.Second) // creation times order the listing
	var it ugc.Item
	if err := json.Unmarshal([]byte(e.want(cred, "POST", ugcBase+"/items", body, 201, "")), &it); err != nil {
		e.t.Fatal(err)
	}
	return it
}

func versionBody(name string, size int64, ct string) string {
	return fmt.Sprintf(`{"filename":%q,"size":%d,"sha256":"%s","content_type":%q}`, name, size, strings.Repeat("ab", 32), ct)
}

// publish opens a version of it and completes it as the blob service would.
func (e *ugcEnv) publish(cred string, it ugc.Item) string {
	e.t.Helper()
	var ans ugcVersionAnswer
	if err := json.Unmarshal([]byte(e.want(cred, "POST", ugcBase+"/items/"+it.ID+"/versions", versionBody("m.zip", 10, "application/zip"), 201, `"protocol":"tus"`)), &ans); err != nil {
		e.t.Fatal(err)
	}
	if ans.UploadURL == "" || ans.ExpiresAt.IsZero() {
		e.t.Fatalf("answer %+v", ans)
	}
	u := blob.Upload{Tenant: "acme", Project: "rocket", Item: it.ID, Version: ans.VersionID}
	if err := e.srv.PublishUpload(context.Background(), u, blob.Ref{Store: "local", Holder: "node-a"}); err != nil {
		e.t.Fatalf("publish: %v", err)
	}
	return ans.VersionID
}

func TestUGCPlayersOwnTheirItems(t *testing.T) {
	e := newUGCEnv(t)
	it := e.createItem(e.p1, `{"title":"Castle","tags":["Map","pvp"],"metadata":{"mode":"ctf"}}`)
	if it.Owner != "p1" || it.State != ugc.StateDraft || it.Tags[0] != "map" {
		t.Fatalf("item %+v", it)
	}
	path := ugcBase + "/items/" + it.ID
	// A draft is p1's alone.
	e.want(e.p2, "GET", path, "", 404, "not_found")
	e.want(e.p1, "GET", path, "", 200, "Castle")
	e.want(e.admin, "GET", path, "", 200, "Castle")
	// Another tenant's player: 404, as for a tenant that does not exist.
	e.want(e.bravo, "GET", path, "", 404, "tenant")
	e.want(e.bravo, "POST", "/v1/tenants/acme/projects/rocket/ugc/items", `{"title":"x"}`, 404, "tenant")
	v := e.publish(e.p1, it)
	e.want(e.p2, "GET", path, "", 200, `"state":"approved"`)
	// p2 sees it and may report it, but not change it.
	e.want(e.p2, "PATCH", path, `{"title":"mine now"}`, 403, "another owner")
	e.want(e.p2, "DELETE", path, "", 403, "another owner")
	e.want(e.p2, "POST", path+"/versions", versionBody("x.zip", 1, "application/zip"), 403, "another owner")
	e.want(e.p2, "POST", path+"/moderation", `{"action":"hide"}`, 403, "permission_denied")
	e.want(e.p2, "POST", path+"/reports", `{"reason":"stolen map"}`, 201, "report_id")
	rec := e.doAs(e.p2, "GET", path+"/versions/"+v+"/download", "")
	if rec.Code != 302 || !strings.Contains(rec.Header().Get("Location"), "/v1/ugc/blobs/acme/rocket/") {
		t.Fatalf("download: %d %v", rec.Code, rec.Header())
	}
	e.srv.flushDownloads(context.Background())
	if got, _ := e.store.state.UGC.Item("acme", "rocket", it.ID); got.Downloads != 1 || got.Reports != 1 {
		t.Fatalf("counters %+v", got)
	}
	// p1 changes its own item.
	e.want(e.p1, "PATCH", path, `{"title":"Castle II","visibility":"private"}`, 200, "Castle II")
	// Private: p2 cannot see it at all, so a change is a 404 too.
	e.want(e.p2, "GET", path, "", 404, "not_found")
	e.want(e.p2, "PATCH", path, `{"title":"x"}`, 404, "not_found")
	// Moderation by the studio.
	e.want(e.admin, "POST", path+"/moderation", `{"action":"hide","reason":"dmca"}`, 200, `"state":"hidden"`)
	e.want(e.p1, "DELETE", path, "", 204, "")
	e.want(e.p1, "GET", path, "", 404, "")
	// Players reach no other route.
	e.want(e.p1, "GET", "/v1/tenants/acme/bans", "", 403, "permission_denied")
	e.want(e.p1, "POST", "/v1/tenants/acme/sessions", `{"player_id":"p3"}`, 403, "permission_denied")
	e.want(e.p1, "PUT", ugcBase+"/settings", `{}`, 403, "permission_denied")
	e.want(e.p1, "GET", ugcBase+"/settings", "", 200, `"max_file_size":536870912`)
}

func TestUGCPlayerTokensHonourBansAndRevocations(t *testing.T) {
	e := newUGCEnv(t)
	e.want(e.p1, "GET", ugcBase+"/items", "", 200, "items")
	e.want(e.admin, "POST", "/v1/tenants/acme/bans", `{"player_id":"p1","reason":"cheat"}`, 201, "")
	e.want(e.p1, "GET", ugcBase+"/items", "", 403, "player_banned")
	e.want(e.admin, "DELETE", "/v1/tenants/acme/players/p2/sessions", "", 204, "")
	e.clock.Advance(time.Second)
	e.want(e.p2, "GET", ugcBase+"/items", "", 401, "unauthenticated")
	e.want("a.b.c", "GET", ugcBase+"/items", "", 401, "unauthenticated")
	// A session of another project sees only its own.
	other := e.issue(e.token, "acme", `{"player_id":"p7","project_id":"rocket"}`).Token
	e.want(other, "GET", ugcBase+"/items", "", 200, "items")
	e.createProject("acme", "second")
	e.want(other, "GET", "/v1/tenants/acme/projects/second/ugc/items", "", 404, "project")
}

func TestUGCBadInput(t *testing.T) {
	e := newUGCEnv(t)
	e.want(e.admin, "PUT", ugcBase+"/settings", `{"max_file_size":1000,"max_items_per_player":2,"max_bytes_per_player":1500,"allowed_content_types":["application/zip","image/*"]}`, 200, `"max_file_size":1000`)
	it := e.createItem(e.p1, `{"title":"a"}`)
	versions := ugcBase + "/items/" + it.ID + "/versions"
	e.want(e.p1, "POST", versions, versionBody("a.zip", 1001, "application/zip"), 413, "max_file_size")
	e.want(e.p1, "POST", versions, `{"filename":"a.zip","size":10,"sha256":"ABC","content_type":"application/zip"}`, 400, "sha256")
	e.want(e.p1, "POST", versions, versionBody("a.zip", 10, "text/html"), 400, "allowed_content_types")
	e.want(e.p1, "POST", versions, versionBody("../a.zip", 10, "image/png"), 400, "filename")
	e.want(e.p1, "POST", versions, versionBody("a.zip", 0, "image/png"), 400, "size")
	e.want(e.p1, "POST", versions, versionBody("a.zip", 900, "image/png"), 201, "upload_url")
	e.want(e.p1, "POST", versions, versionBody("b.zip", 900, "image/png"), 413, "max_bytes_per_player")
	e.want(e.p1, "POST", versions, versionBody("fail.zip", 10, "image/png"), 500, "internal")
	tags := `["` + strings.Repeat(`t","`, 16) + `u"]`
	e.want(e.p1, "POST", ugcBase+"/items", `{"title":"a","tags":`+tags+`}`, 400, "at most 16")
	e.want(e.p1, "POST", ugcBase+"/items", `{"title":"a","tags":["no spaces"]}`, 400, "tags")
	var meta []string
	for i := range 33 {
		meta = append(meta, fmt.Sprintf(`"k%d":"v"`, i))
	}
	e.want(e.p1, "POST", ugcBase+"/items", `{"title":"a","metadata":{`+strings.Join(meta, ",")+`}}`, 400, "metadata")
	e.want(e.p1, "POST", ugcBase+"/items", `{"title":""}`, 400, "title")
	e.want(e.p1, "POST", ugcBase+"/items", `{"title":"a","owner":"p2"}`, 400, "owner")
	e.want(e.p1, "POST", ugcBase+"/items", `{"title":"a","visibility":"friends"}`, 400, "visibility")
	e.createItem(e.p1, `{"title":"b"}`)
	e.want(e.p1, "POST", ugcBase+"/items", `{"title":"c"}`, 429, "max_items_per_player")
	e.createItem(e.admin, `{"title":"studio items do not count"}`)
	// Query parameters.
	e.want(e.admin, "GET", ugcBase+"/items?color=red", "", 400, "unknown query parameter")
	e.want(e.admin, "GET", ugcBase+"/items?limit=500", "", 400, "limit")
	e.want(e.admin, "GET", ugcBase+"/items?sort=oldest", "", 400, "sort")
	e.want(e.admin, "GET", ugcBase+"/items?cursor=zzzz", "", 400, "cursor")
	e.want(e.admin, "GET", ugcBase+"/items?tag=BAD%20TAG", "", 400, "tags")
	// An upload completed after its expiry publishes nothing.
	it2 := e.createItem(e.admin, `{"title":"late"}`)
	var ans ugcVersionAnswer
	json.Unmarshal([]byte(e.want(e.admin, "POST", ugcBase+"/items/"+it2.ID+"/versions", versionBody("a.zip", 10, "image/png"), 201, "")), &ans)
	e.clock.Advance(25 * time.Hour)
	e.want(e.admin, "GET", ugcBase+"/items?q=late", "", 200, "late") // any write would do; reads prune nothing
	e.want(e.admin, "PATCH", ugcBase+"/items/"+it2.ID, `{"description":"tick"}`, 200, "")
	if v, _ := e.store.state.UGC.Version("acme", "rocket", it2.ID, ans.VersionID); v.State != ugc.VersionExpired {
		t.Fatalf("version after expiry: %+v", v)
	}
	err := e.srv.PublishUpload(context.Background(), blob.Upload{Tenant: "acme", Project: "rocket", Item: it2.ID, Version: ans.VersionID}, blob.Ref{Store: "local", Holder: "node-a"})
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("publish after expiry: %v", err)
	}
}

func TestUGCQueryAsPlayer(t *testing.T) {
	e := newUGCEnv(t)
	pub := e.createItem(e.p1, `{"title":"Desert Storm","tags":["map"]}`)
	e.publish(e.p1, pub)
	unl := e.createItem(e.p1, `{"title":"Desert Secret","tags":["map"],"visibility":"unlisted"}`)
	e.publish(e.p1, unl)
	draft := e.createItem(e.p1, `{"title":"Desert Draft","tags":["map"]}`)
	ids := func(cred, q string) string {
		t.Helper()
		var page ugcPage
		json.Unmarshal([]byte(e.want(cred, "GET", ugcBase+"/items?"+q, "", 200, "")), &page)
		var out []string
		for _, it := range page.Items {
			out = append(out, it.Title)
		}
		return strings.Join(out, ",")
	}
	if got := ids(e.p2, "tag=map&q=desert"); got != "Desert Storm" {
		t.Fatalf("p2 sees %q", got)
	}
	if got := ids(e.p1, "tag=map&q=desert&owner=p1"); got != "Desert Draft,Desert Secret,Desert Storm" {
		t.Fatalf("p1 sees %q", got)
	}
	if got := ids(e.admin, "q=desert&state=draft"); got != "Desert Draft" {
		t.Fatalf("admin sees %q", got)
	}
	e.want(e.p2, "GET", ugcBase+"/items/"+unl.ID, "", 200, "Secret") // unlisted: by id
	e.want(e.p2, "GET", ugcBase+"/items/"+draft.ID, "", 404, "")
	var page ugcPage
	json.Unmarshal([]byte(e.want(e.p1, "GET", ugcBase+"/items?owner=p1&limit=2", "", 200, "next_cursor")), &page)
	next := page.NextCursor
	page = ugcPage{}
	json.Unmarshal([]byte(e.want(e.p1, "GET", ugcBase+"/items?owner=p1&limit=2&cursor="+next, "", 200, "Storm")), &page)
	if len(page.Items) != 1 || page.NextCursor != "" {
		t.Fatalf("second page %+v", page)
	}
}

// recUGC is fakeUGC recording the blobs it is asked to delete.
type recUGC struct {
	fakeUGC
	mu      sync.Mutex
	deleted []blob.Ref
}

func (r *recUGC) Delete(_ context.Context, ref blob.Ref) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deleted = append(r.deleted, ref)
	return nil
}

// TestUGCCollectsUnreferencedBlobs: deleting an item leaves its blob
// unreferenced; the holder's collection pass claims it, deletes the bytes
// and forgets it; another node's pass touches nothing.
func TestUGCCollectsUnreferencedBlobs(t *testing.T) {
	rec := &recUGC{}
	h := newHarness(t, func(c *Config) { c.UGC = rec })
	h.createTenant("acme")
	h.createProject("acme", "rocket")
	e := &ugcEnv{harness: h, admin: h.token}
	it := e.createItem(e.admin, `{"title":"gone soon"}`)
	e.publish(e.admin, it)
	e.srv.collectBlobs(context.Background())
	if len(rec.deleted) != 0 {
		t.Fatalf("collected a referenced blob: %+v", rec.deleted)
	}
	e.want(e.admin, "DELETE", ugcBase+"/items/"+it.ID, "", 204, "")
	if g := e.store.state.UGC.Garbage("node-a", 10); len(g) != 1 {
		t.Fatalf("garbage %+v", g)
	}
	e.srv.collectBlobs(context.Background())
	if len(rec.deleted) != 1 || rec.deleted[0].Holder != "node-a" || rec.deleted[0].SHA256 != strings.Repeat("ab", 32) {
		t.Fatalf("deleted %+v", rec.deleted)
	}
	if g := e.store.state.UGC.Garbage("node-a", 10); len(g) != 0 {
		t.Fatalf("garbage after collection %+v", g)
	}
}

func TestUGCPlayersAreRateLimited(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RateLimits = RateLimits{KeyRate: 0.001, KeyBurst: 2} })
	h.createTenant("acme")
	h.createProject("acme", "rocket")
	p1 := h.issue(h.token, "acme", `{"player_id":"p1"}`).Token
	p2 := h.issue(h.token, "acme", `{"player_id":"p2"}`).Token
	for i, want := range []int{201, 201, 429} {
		if rec := h.doAs(p1, "POST", ugcBase+"/items", `{"title":"t"}`); rec.Code != want {
			t.Fatalf("request %d: %d %s, want %d", i, rec.Code, rec.Body, want)
		}
	}
	if rec := h.doAs(p2, "POST", ugcBase+"/items", `{"title":"t"}`); rec.Code != 201 {
		t.Fatalf("another player: %d", rec.Code)
	}
}

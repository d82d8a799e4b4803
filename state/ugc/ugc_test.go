package ugc_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/tenancy"
	"github.com/cassandranet/cassnet/state/ugc"
)

const sha1 = "1111111111111111111111111111111111111111111111111111111111111111"
const sha2 = "2222222222222222222222222222222222222222222222222222222222222222"

func op(o any) *cassnetv1.Command {
	c := newCmd()
	switch o := o.(type) {
	case *cassnetv1.PutUGCSettings:
		c.Op = &cassnetv1.Command_PutUgcSettings{PutUgcSettings: o}
	case *cassnetv1.CreateUGCItem:
		c.Op = &cassnetv1.Command_CreateUgcItem{CreateUgcItem: o}
	case *cassnetv1.UpdateUGCItem:
		c.Op = &cassnetv1.Command_UpdateUgcItem{UpdateUgcItem: o}
	case *cassnetv1.DeleteUGCItem:
		c.Op = &cassnetv1.Command_DeleteUgcItem{DeleteUgcItem: o}
	case *cassnetv1.CreateUGCVersion:
		c.Op = &cassnetv1.Command_CreateUgcVersion{CreateUgcVersion: o}
	case *cassnetv1.PublishUGCVersion:
		c.Op = &cassnetv1.Command_PublishUgcVersion{PublishUgcVersion: o}
	case *cassnetv1.RejectUGCVersion:
		c.Op = &cassnetv1.Command_RejectUgcVersion{RejectUgcVersion: o}
	case *cassnetv1.RecordUGCDownloads:
		c.Op = &cassnetv1.Command_RecordUgcDownloads{RecordUgcDownloads: o}
	case *cassnetv1.ReportUGCItem:
		c.Op = &cassnetv1.Command_ReportUgcItem{ReportUgcItem: o}
	case *cassnetv1.ModerateUGCItem:
		c.Op = &cassnetv1.Command_ModerateUgcItem{ModerateUgcItem: o}
	case *cassnetv1.CollectUGCBlob:
		c.Op = &cassnetv1.Command_CollectUgcBlob{CollectUgcBlob: o}
	default:
		panic(fmt.Sprintf("op: %T", o))
	}
	return c
}

type env struct {
	*harness
	ten *tenancy.Store
	u   *ugc.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ten := tenancy.New()
	u := ugc.New(ten)
	e := &env{harness: newHarnessOver(t, []consensus.Module{ten, u}), ten: ten, u: u}
	e.mustApply(setStateVersion(3), createTenant("acme"), createProject("acme", "game"), createTenant("other"), createProject("other", "game"))
	return e
}

func item(id, owner, title string, tags ...string) *cassnetv1.Command {
	return op(&cassnetv1.CreateUGCItem{Tenant: "acme", Project: "game", Id: id, Owner: owner, Title: title, Tags: tags, Visibility: "public"})
}

func (e *env) version(item, id, sha string, size int64) *cassnetv1.Command {
	return op(&cassnetv1.CreateUGCVersion{Tenant: "acme", Project: "game", Item: item, Id: id, Filename: "map.zip",
		Size: size, Sha256: sha, ContentType: "application/zip", Store: "local",
		ExpiresUnixNano: e.Now.Add(time.Hour).UnixNano()})
}

func publish(item, id, holder string) *cassnetv1.Command {
	return op(&cassnetv1.PublishUGCVersion{Tenant: "acme", Project: "game", Item: item, Id: id, Store: "local", Holder: holder})
}

func (e *env) wantErr(c *cassnetv1.Command, code *consensus.Error, contains string) {
	e.T.Helper()
	res := e.apply(c)
	if !errors.Is(res.Err, code) || !strings.Contains(fmt.Sprint(res.Err), contains) {
		e.T.Fatalf("got %v, want %s containing %q", res.Err, code.Code, contains)
	}
}

func TestItemLifecycle(t *testing.T) {
	e := newEnv(t)
	e.mustApply(item("i1", "p1", "Castle of Doom", "map", "pvp"))
	it, ok := e.u.Item("acme", "game", "i1")
	if !ok || it.State != ugc.StateDraft || it.Owner != "p1" {
		t.Fatalf("item: %+v %v", it, ok)
	}
	e.wantErr(item("i1", "p1", "again"), consensus.ErrConflict, "exists")
	e.mustApply(e.version("i1", "v1", sha1, 100), publish("i1", "v1", "n1"))
	it, _ = e.u.Item("acme", "game", "i1")
	if it.State != ugc.StateApproved || it.LiveVersion != "v1" {
		t.Fatalf("after publish: %+v", it)
	}
	if b := e.u.Blobs("acme", "game", sha1); len(b) != 1 || b[0].Refs != 1 || b[0].Holder != "n1" {
		t.Fatalf("blobs: %+v", b)
	}
	// A retry of the publish is a no-op.
	e.mustApply(publish("i1", "v1", "n1"))
	// The same bytes in another version share the blob.
	e.mustApply(e.version("i1", "v2", sha1, 100), publish("i1", "v2", "n1"))
	if b := e.u.Blobs("acme", "game", sha1); b[0].Refs != 2 {
		t.Fatalf("refs = %d, want 2", b[0].Refs)
	}
	p, o := e.u.Usage("acme", "game", "p1")
	if p.Bytes != 200 || o.Items != 1 {
		t.Fatalf("usage %+v %+v", p, o)
	}
	// Deleting the item leaves the blob as garbage for n1.
	e.mustApply(op(&cassnetv1.DeleteUGCItem{Tenant: "acme", Project: "game", Id: "i1"}))
	g := e.u.Garbage("n1", 10)
	if len(g) != 1 || g[0].SHA256 != sha1 || g[0].Refs != 0 {
		t.Fatalf("garbage: %+v", g)
	}
	if len(e.u.Garbage("n2", 10)) != 0 {
		t.Fatal("n2 has garbage it does not hold")
	}
	collect := func(phase string) *cassnetv1.Command {
		return op(&cassnetv1.CollectUGCBlob{Tenant: "acme", Project: "game", Sha256: sha1, Store: "local", Holder: "n1", Phase: phase})
	}
	e.wantErr(collect("done"), consensus.ErrConflict, "not claimed")
	e.mustApply(collect("claim"))
	// While it is being collected, no version may publish onto it.
	e.mustApply(item("i2", "p1", "x"), e.version("i2", "v1", sha1, 100))
	e.wantErr(publish("i2", "v1", "n1"), consensus.ErrConflict, "garbage-collected")
	e.mustApply(collect("done"))
	if len(e.u.Garbage("n1", 10)) != 0 || len(e.u.Blobs("acme", "game", sha1)) != 0 {
		t.Fatal("blob not forgotten after collection")
	}
	e.mustApply(publish("i2", "v1", "n1"))
	// A referenced blob cannot be claimed.
	e.wantErr(collect("claim"), consensus.ErrConflict, "referenced")
}

func TestQuotasAndLimits(t *testing.T) {
	e := newEnv(t)
	e.mustApply(op(&cassnetv1.PutUGCSettings{Tenant: "acme", Project: "game", MaxTotalBytes: 1000, MaxBytesPerPlayer: 300,
		MaxItemsPerPlayer: 2, MaxFileSize: 250, AllowedContentTypes: []string{"application/zip", "image/*"}}))
	e.mustApply(item("a", "p1", "a"), item("b", "p1", "b"))
	e.wantErr(item("c", "p1", "c"), ugc.ErrQuota, "max_items_per_player")
	e.mustApply(item("s", "studio", "studio items are not counted"))
	e.wantErr(e.version("a", "v1", sha1, 251), ugc.ErrTooLarge, "max_file_size")
	e.mustApply(e.version("a", "v1", sha1, 200))
	e.wantErr(e.version("b", "v1", sha2, 200), ugc.ErrTooLarge, "max_bytes_per_player")
	c := e.version("b", "v2", sha2, 10)
	c.GetCreateUgcVersion().ContentType = "text/plain"
	e.wantErr(c, consensus.ErrInvalid, "allowed_content_types")
	c = e.version("b", "v2", sha2, 10)
	c.GetCreateUgcVersion().ContentType = "image/png"
	e.mustApply(c)
	for i := range 3 {
		e.mustApply(e.version("s", fmt.Sprintf("v%d", i), sha2, 200))
	}
	e.wantErr(e.version("s", "v8", sha2, 200), ugc.ErrTooLarge, "max_total_bytes")
	e.mustApply(e.version("s", "v3", sha2, 10))
	e.wantErr(e.version("s", "v9", sha2, 10), ugc.ErrQuota, "uploads open")
	// Expired uploads free their bytes.
	e.Now = e.Now.Add(2 * time.Hour)
	e.mustApply(item("t", "studio", "tick"))
	for _, v := range e.u.Versions("acme", "game", "s") {
		if v.State != ugc.VersionExpired || !strings.Contains(v.Reason, "not completed") {
			t.Fatalf("after expiry: %+v", v)
		}
	}
	if p, _ := e.u.Usage("acme", "game", ""); p.Bytes != 0 {
		t.Fatalf("usage after expiry: %+v", p)
	}
	e.wantErr(publish("s", "v0", "n1"), consensus.ErrConflict, "expired")
}

func TestModerationAndReports(t *testing.T) {
	e := newEnv(t)
	e.mustApply(op(&cassnetv1.PutUGCSettings{Tenant: "acme", Project: "game", Moderation: "approval-required"}))
	e.mustApply(item("a", "p1", "a"), e.version("a", "v1", sha1, 10), publish("a", "v1", "n1"))
	if it, _ := e.u.Item("acme", "game", "a"); it.State != ugc.StatePending {
		t.Fatalf("state %s, want pending", it.State)
	}
	e.mustApply(op(&cassnetv1.ModerateUGCItem{Tenant: "acme", Project: "game", Item: "a", Action: "reject", Reason: "nsfw"}))
	if it, _ := e.u.Item("acme", "game", "a"); it.State != ugc.StateRejected || it.Reason != "nsfw" {
		t.Fatalf("after reject: %+v", it)
	}
	for i := range ugc.MaxReportsKept + 5 {
		e.mustApply(op(&cassnetv1.ReportUGCItem{Tenant: "acme", Project: "game", Item: "a", Id: fmt.Sprintf("r%03d", i), Reporter: "player:p2", Reason: "spam"}))
	}
	if it, _ := e.u.Item("acme", "game", "a"); it.Reports != ugc.MaxReportsKept+5 {
		t.Fatalf("reports = %d", it.Reports)
	}
	if n := len(e.u.Reports("acme", "game", "a")); n != ugc.MaxReportsKept {
		t.Fatalf("kept %d reports", n)
	}
	e.wantErr(op(&cassnetv1.RejectUGCVersion{Tenant: "acme", Project: "game", Item: "a", Id: "v1", Reason: "x"}), consensus.ErrConflict, "not pending")
}

func TestVersionsTrimmed(t *testing.T) {
	e := newEnv(t)
	e.mustApply(op(&cassnetv1.PutUGCSettings{Tenant: "acme", Project: "game", VersionsPerItem: 2}))
	e.mustApply(item("a", "p1", "a"))
	shas := []string{sha1, sha2, strings.Repeat("3", 64)}
	for i, sha := range shas {
		id := fmt.Sprintf("v%d", i)
		e.mustApply(e.version("a", id, sha, 10), publish("a", id, "n1"))
	}
	vs := e.u.Versions("acme", "game", "a")
	if len(vs) != 2 || vs[0].ID != "v2" || vs[1].ID != "v1" {
		t.Fatalf("versions: %+v", vs)
	}
	if g := e.u.Garbage("n1", 10); len(g) != 1 || g[0].SHA256 != sha1 {
		t.Fatalf("garbage: %+v", g)
	}
	e.wantErr(op(&cassnetv1.RejectUGCVersion{Tenant: "acme", Project: "game", Item: "a", Id: "zz", Reason: "x"}), consensus.ErrNotFound, "zz")
}

func TestSearch(t *testing.T) {
	e := newEnv(t)
	e.mustApply(
		item("a", "p1", "Castle of Doom", "map", "pvp"),
		item("b", "p2", "Doom Racer", "car"),
		item("c", "p1", "Quiet Garden", "map"),
	)
	e.mustApply(op(&cassnetv1.CreateUGCItem{Tenant: "acme", Project: "game", Id: "d", Owner: "p3", Title: "Secret doom", Visibility: "private"}))
	e.mustApply(op(&cassnetv1.RecordUGCDownloads{Entries: []*cassnetv1.RecordUGCDownloads_Entry{
		{Tenant: "acme", Project: "game", Item: "b", Count: 5}, {Tenant: "acme", Project: "game", Item: "c", Count: 9},
		{Tenant: "acme", Project: "game", Item: "gone", Count: 1}}}))
	ids := func(q ugc.Query) string {
		t.Helper()
		q.Tenant, q.Project = "acme", "game"
		p, err := e.u.Search(q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range p.Items {
			out = append(out, it.ID)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		q    ugc.Query
		want string
	}{
		{ugc.Query{}, "d,c,b,a"},
		{ugc.Query{Tags: []string{"map"}}, "c,a"},
		{ugc.Query{Tags: []string{"map", "pvp"}}, "a"},
		{ugc.Query{Words: ugc.QueryWords("DOOM")}, "d,b,a"},
		{ugc.Query{Words: ugc.QueryWords("doom castle")}, "a"},
		{ugc.Query{Words: []string{"doom"}, Visibility: "public"}, "b,a"},
		{ugc.Query{Owner: "p1"}, "c,a"},
		{ugc.Query{Sort: ugc.SortDownloads}, "c,b,d,a"},
		{ugc.Query{Sort: ugc.SortDownloads, Words: []string{"doom"}}, "b,d,a"},
		{ugc.Query{Tags: []string{"nothing"}}, ""},
		{ugc.Query{Visible: func(it *ugc.Item) bool { return it.Visibility != "private" }}, "c,b,a"},
	} {
		if got := ids(c.q); got != c.want {
			t.Errorf("%+v: got %q, want %q", c.q, got, c.want)
		}
	}
	// Pages by cursor, with writes between pages.
	for _, sort := range []string{ugc.SortRecent, ugc.SortDownloads} {
		var got []string
		q := ugc.Query{Tenant: "acme", Project: "game", Limit: 1, Sort: sort}
		for i := 0; ; i++ {
			p, err := e.u.Search(q)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range p.Items {
				got = append(got, it.ID)
			}
			if i == 0 {
				e.mustApply(item(fmt.Sprintf("new-%s", sort), "p9", "newer")) // sorts before the cursor
			}
			if p.Next == "" {
				break
			}
			q.Cursor = p.Next
		}
		want := map[string]string{ugc.SortRecent: "d,c,b,a", ugc.SortDownloads: "c,b,d,a"}[sort]
		if sort == ugc.SortDownloads {
			want = "c,b,new-downloads,new-recent,d,a" // both newer, 0 downloads: after the cursor at c
		}
		if strings.Join(got, ",") != want {
			t.Errorf("pages (%s): %v, want %s", sort, got, want)
		}
	}
	if _, err := e.u.Search(ugc.Query{Tenant: "acme", Project: "game", Cursor: "!!"}); !errors.Is(err, consensus.ErrInvalid) {
		t.Fatalf("bad cursor: %v", err)
	}
	// Updates move an item between lists.
	e.mustApply(op(&cassnetv1.UpdateUGCItem{Tenant: "acme", Project: "game", Id: "a", SetTags: true, Tags: []string{"car"}}))
	if got := ids(ugc.Query{Tags: []string{"car"}}); got != "b,a" {
		t.Fatalf("after retag: %s", got)
	}
	if got := ids(ugc.Query{Tags: []string{"pvp"}}); got != "" {
		t.Fatalf("old tag still listed: %s", got)
	}
}

func TestSnapshotRestoreAndDrop(t *testing.T) {
	e := newEnv(t)
	e.mustApply(item("a", "p1", "Castle", "map"), e.version("a", "v1", sha1, 10), publish("a", "v1", "n1"),
		e.version("a", "v2", sha2, 10), item("b", "p1", "Other"))
	before := e.freshHash()
	data := persist(t, e.FSM)
	ten := tenancy.New()
	u := ugc.New(ten)
	h2 := newHarnessOver(t, []consensus.Module{ten, u})
	restore(t, h2.FSM, data)
	if h2.freshHash() != before {
		t.Fatal("hash differs after restore")
	}
	p, err := u.Search(ugc.Query{Tenant: "acme", Project: "game", Words: []string{"castle"}})
	if err != nil || len(p.Items) != 1 {
		t.Fatalf("search after restore: %+v %v", p, err)
	}
	if pu, _ := u.Usage("acme", "game", "p1"); pu.Bytes != 20 || pu.Items != 2 {
		t.Fatalf("usage after restore: %+v", pu)
	}
	e.mustApply(deleteTenant("acme"))
	if _, ok := e.u.Item("acme", "game", "a"); ok {
		t.Fatal("item survived its tenant")
	}
	if g := e.u.Garbage("n1", 10); len(g) != 1 {
		t.Fatalf("the dropped tenant's blob is not garbage: %+v", g)
	}
}

func TestEmptyModuleHashesNothing(t *testing.T) {
	ten := tenancy.New()
	h1 := newHarnessOver(t, []consensus.Module{ten})
	h2 := newHarnessOver(t, []consensus.Module{tenancy.New(), ugc.New(tenancy.New())})
	if h1.freshHash() != h2.freshHash() {
		t.Fatal("an empty ugc module changes the state hash")
	}
}

package blob

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// onNode rewrites an URL minted by one node to reach another node.
func onNode(u string, from, to *node) string { return strings.Replace(u, from.srv.URL, to.srv.URL, 1) }

// TestResumeAndDownload: a 20 MiB upload is cut halfway, resumed from the
// offset the node reports through a second node, completed, verified and
// downloaded (whole and by Range) with the same sha256 from the second
// node.
func TestResumeAndDownload(t *testing.T) {
	stores(t, func(t *testing.T, store string, s3 func() *S3Config) {
		ctx := context.Background()
		peers := map[string]*node{}
		a := newNode(t, "node-a", s3(), peers)
		b := newNode(t, "node-b", s3(), peers)
		data := randomBytes(20<<20, 1)
		url, err := a.svc.Create(ctx, testUpload(store, data))
		if err != nil {
			t.Fatal(err)
		}
		off, _ := tusHead(t, url)
		if off != 0 {
			t.Fatalf("fresh upload at offset %d", off)
		}
		tusPatchCut(t, url, 0, data, 10<<20)
		// HEAD on the node that took the cut PATCH: it waits for that
		// request's lock, so the bytes it kept are stored.
		aoff, _ := tusHead(t, url)
		// Resume through node b: for local it forwards to the holder,
		// for s3 it serves the upload itself from the bucket.
		burl := onNode(url, a, b)
		off, resp := tusHead(t, burl)
		if off <= 0 || off > 10<<20 {
			t.Fatalf("after the cut the offset is %d (status %d), want in (0, 10 MiB]", off, resp.StatusCode)
		}
		t.Logf("resuming at offset %d of %d", off, len(data))
		if off != aoff {
			t.Fatalf("node b sees offset %d, node a %d", off, aoff)
		}
		if resp.Header.Get("Upload-Expires") == "" {
			t.Fatal("HEAD has no Upload-Expires")
		}
		if code, body := tusPatch(t, burl, off, data[off:]); code != http.StatusNoContent {
			t.Fatalf("resume PATCH: %d %s", code, body)
		}
		var done []Ref
		for _, n := range []*node{a, b} {
			done = append(done, n.completions()...)
		}
		if len(done) != 1 {
			t.Fatalf("completions %v, want one", done)
		}
		ref := done[0]
		if ref.SHA256 != sum(data) || ref.Size != int64(len(data)) || ref.Store != store {
			t.Fatalf("ref %+v", ref)
		}
		if store == StoreLocal && ref.Holder != "node-a" {
			t.Fatalf("holder %q, want node-a", ref.Holder)
		}
		if off, _ := tusHead(t, url); off != int64(len(data)) {
			t.Fatalf("HEAD after completion: offset %d", off)
		}
		dl, err := b.svc.DownloadURL(ctx, ref, "map.zip", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := get(t, dl, nil)
		if resp.StatusCode != http.StatusOK || sum(body) != sum(data) {
			t.Fatalf("download: %d, %d bytes, sha256 %s", resp.StatusCode, len(body), sum(body))
		}
		resp, body = get(t, dl, map[string]string{"Range": "bytes=1000000-1999999"})
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[1000000:2000000]) {
			t.Fatalf("range download: %d, %d bytes", resp.StatusCode, len(body))
		}
	})
}

// TestWrongChecksumRejected: bytes that do not hash to the declared sha256
// are refused on the last PATCH, OnReject says why, and the bytes are gone.
func TestWrongChecksumRejected(t *testing.T) {
	stores(t, func(t *testing.T, store string, s3 func() *S3Config) {
		ctx := context.Background()
		a := newNode(t, "node-a", s3(), nil)
		data := randomBytes(9<<20+123, 2)
		u := testUpload(store, data)
		u.SHA256 = sum([]byte("something else"))
		url, err := a.svc.Create(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		code, body := tusPatch(t, url, 0, data)
		if code != 460 || !strings.Contains(body, "sha256 mismatch") {
			t.Fatalf("PATCH with wrong bytes: %d %s", code, body)
		}
		if r := a.rejections(); len(r) != 1 || !strings.Contains(r[0], "sha256 mismatch") {
			t.Fatalf("rejections %q", r)
		}
		if len(a.completions()) != 0 {
			t.Fatal("a rejected upload completed")
		}
		if off, resp := tusHead(t, url); off != -1 || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("HEAD of a rejected upload: %d", resp.StatusCode)
		}
		assertNoBytes(t, a, store, u)
	})
}

// assertNoBytes checks that nothing of u is left in its store.
func assertNoBytes(t *testing.T, n *node, store string, u Upload) {
	t.Helper()
	ctx := context.Background()
	ref := Ref{Tenant: u.Tenant, Project: u.Project, SHA256: u.SHA256, Store: store, Holder: n.svc.cfg.Node}
	if store == StoreLocal {
		ents, _ := os.ReadDir(filepath.Join(n.dir, "ugc", "uploads"))
		if len(ents) != 0 {
			t.Fatalf("uploads dir still has %d files (%s)", len(ents), ents[0].Name())
		}
		if ok, _ := n.svc.local.exists(ctx, ref); ok {
			t.Fatal("blob exists")
		}
		return
	}
	mc := testMinio(t)
	for o := range mc.ListObjects(ctx, n.svc.s3.bucket, minio.ListObjectsOptions{Recursive: true}) {
		t.Fatalf("bucket still holds %s (%v)", o.Key, o.Err)
	}
	res, err := n.svc.s3.c.ListMultipartUploads(ctx, n.svc.s3.bucket, "", "", "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Uploads) != 0 {
		t.Fatalf("%d multipart uploads still open", len(res.Uploads))
	}
}

// TestExpiredUpload: after its expiry an upload is refused (410) and the
// next GC pass deletes its bytes and tells OnReject.
func TestExpiredUpload(t *testing.T) {
	stores(t, func(t *testing.T, store string, s3 func() *S3Config) {
		ctx := context.Background()
		a := newNode(t, "node-a", s3(), nil)
		data := randomBytes(3<<20, 3)
		u := testUpload(store, data)
		url, err := a.svc.Create(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if code, body := tusPatch(t, url, 0, data[:1<<20]); code != http.StatusNoContent {
			t.Fatalf("PATCH: %d %s", code, body)
		}
		a.Collect(ctx) // not expired yet: nothing goes
		if off, _ := tusHead(t, url); off != 1<<20 {
			t.Fatalf("offset %d after an early GC", off)
		}
		a.setClock(time.Now().Add(DefaultUploadTTL + time.Minute))
		if code, _ := tusPatch(t, url, 1<<20, data[1<<20:]); code != http.StatusGone {
			t.Fatalf("PATCH after expiry: %d, want 410", code)
		}
		if _, resp := tusHead(t, url); resp.StatusCode != http.StatusGone {
			t.Fatalf("HEAD after expiry: %d, want 410", resp.StatusCode)
		}
		a.Collect(ctx)
		if r := a.rejections(); len(r) != 1 || !strings.Contains(r[0], "expired") {
			t.Fatalf("rejections %q", r)
		}
		assertNoBytes(t, a, store, u)
	})
}

func (n *node) Collect(ctx context.Context) { n.svc.Collect(ctx) }

// TestSignedURLs: a download or upload URL whose token, resource, holder
// or filename was changed, or whose time is up, is refused.
func TestSignedURLs(t *testing.T) {
	ctx := context.Background()
	a := newNode(t, "node-a", nil, nil)
	data := randomBytes(4096, 4)
	url, err := a.svc.Create(ctx, testUpload(StoreLocal, data))
	if err != nil {
		t.Fatal(err)
	}
	bare := url[:strings.Index(url, "?")]
	if _, resp := tusHead(t, bare); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("HEAD without token: %d", resp.StatusCode)
	}
	if _, resp := tusHead(t, tamper(url)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("HEAD with a tampered token: %d", resp.StatusCode)
	}
	if code, _ := tusPatch(t, url, 0, data); code != http.StatusNoContent {
		t.Fatalf("PATCH: %d", code)
	}
	ref := a.completions()[0]
	dl, err := a.svc.DownloadURL(ctx, ref, "a.zip", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, dl, nil); resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("download %d", resp.StatusCode)
	}
	for name, u := range map[string]string{
		"tampered token":    tamper(dl),
		"other filename":    strings.Replace(dl, "n=a.zip", "n=b.zip", 1),
		"other holder":      strings.Replace(dl, "h=node-a", "h=node-b", 1),
		"other blob":        strings.Replace(dl, ref.SHA256, sum([]byte("x")), 1),
		"no token":          dl[:strings.Index(dl, "t=")],
		"upload token here": strings.Replace(dl, dl[strings.Index(dl, "t="):], url[strings.Index(url, "t="):], 1),
	} {
		if resp, _ := get(t, u, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
	}
	a.setClock(time.Now().Add(2 * time.Minute))
	if resp, _ := get(t, dl, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("expired download: %d, want 403", resp.StatusCode)
	}
}

// tamper flips the last character of the token (the end of the MAC).
func tamper(u string) string {
	last := u[len(u)-1]
	c := byte('A')
	if last == 'A' {
		c = 'B'
	}
	return u[:len(u)-1] + string(c)
}

// TestDeduplicated: the same bytes twice in a project become one blob; a
// failing OnComplete deletes a blob it created but never one that was
// already stored.
func TestDeduplicated(t *testing.T) {
	stores(t, func(t *testing.T, store string, s3 func() *S3Config) {
		ctx := context.Background()
		a := newNode(t, "node-a", s3(), nil)
		data := randomBytes(1<<20, 5)
		up := func() (int, string) {
			url, err := a.svc.Create(ctx, testUpload(store, data))
			if err != nil {
				t.Fatal(err)
			}
			return tusPatch(t, url, 0, data)
		}
		a.failNext = errors.New("quota exceeded")
		if code, body := up(); code != http.StatusInternalServerError || !strings.Contains(body, "quota exceeded") {
			t.Fatalf("upload with a failing OnComplete: %d %s", code, body)
		}
		ref := Ref{Tenant: "acme", Project: "game1", SHA256: sum(data), Store: store, Holder: "node-a", Size: int64(len(data))}
		b, _ := a.svc.backend(store)
		if ok, _ := b.exists(ctx, ref); ok {
			t.Fatal("a blob created for an unpublished upload was kept")
		}
		for i := 0; i < 2; i++ {
			if code, body := up(); code != http.StatusNoContent {
				t.Fatalf("upload %d: %d %s", i, code, body)
			}
		}
		a.failNext = statusErr{413, "over the project quota of 1 GiB"}
		if code, _ := up(); code != http.StatusRequestEntityTooLarge {
			t.Fatalf("failing upload: %d", code)
		}
		if ok, _ := b.exists(ctx, ref); !ok {
			t.Fatal("a failing duplicate deleted the shared blob")
		}
		if c := a.completions(); len(c) != 2 || c[0] != c[1] {
			t.Fatalf("completions %v", c)
		}
		if err := a.svc.Delete(ctx, ref); err != nil {
			t.Fatal(err)
		}
		if ok, _ := b.exists(ctx, ref); ok {
			t.Fatal("Delete left the blob")
		}
		if err := a.svc.Delete(ctx, ref); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
	})
}

// TestTerminate: DELETE (tus termination) drops the bytes and tells
// OnReject.
func TestTerminate(t *testing.T) {
	stores(t, func(t *testing.T, store string, s3 func() *S3Config) {
		ctx := context.Background()
		a := newNode(t, "node-a", s3(), nil)
		data := randomBytes(2<<20, 6)
		u := testUpload(store, data)
		url, err := a.svc.Create(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		tusPatch(t, url, 0, data[:1<<20])
		req, _ := http.NewRequest(http.MethodDelete, url, nil)
		req.Header.Set("Tus-Resumable", "1.0.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE: %d", resp.StatusCode)
		}
		if r := a.rejections(); len(r) != 1 || !strings.Contains(r[0], "terminated") {
			t.Fatalf("rejections %q", r)
		}
		assertNoBytes(t, a, store, u)
	})
}

// TestProtocolSurface: OPTIONS announces the extensions, POST creation by
// a client is refused, Delete of a blob held elsewhere is refused.
func TestProtocolSurface(t *testing.T) {
	a := newNode(t, "node-a", nil, nil)
	req, _ := http.NewRequest(http.MethodOptions, a.srv.URL+UploadsPath, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ext := resp.Header.Get("Tus-Extension")
	if ext != "creation,termination,expiration" {
		t.Errorf("Tus-Extension %q", ext)
	}
	req, _ = http.NewRequest(http.MethodPost, a.srv.URL+UploadsPath, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "10")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("client POST: %d, want 403", resp.StatusCode)
	}
	err = a.svc.Delete(context.Background(), Ref{Tenant: "t", Project: "p", SHA256: sum(nil), Store: StoreLocal, Holder: "node-b"})
	if !errors.Is(err, ErrNotHolder) {
		t.Fatalf("Delete on a non-holder: %v", err)
	}
	_, err = a.svc.Create(context.Background(), Upload{Tenant: "t", Project: "p", Size: DefaultMaxUploadBytes + 1, SHA256: sum(nil)})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize Create: %v", err)
	}
	_, err = a.svc.Create(context.Background(), Upload{Tenant: "../x", Project: "p", Size: 1, SHA256: sum(nil)})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad tenant: %v", err)
	}
}

func TestPartSize(t *testing.T) {
	for _, size := range []int64{1, 5 << 20, 512 << 20, 5 << 30, 1 << 40} {
		p := partSize(size)
		if p < minPartSize || (size+p-1)/p > maxParts || p%(1<<20) != 0 {
			t.Errorf("size %d: part size %d gives %d parts", size, p, (size+p-1)/p)
		}
	}
}

// TestS3OrphanMultipart: a multipart upload no record knows (a crash
// between opening it and saving the record) is aborted once old enough;
// one a record still uses is kept.
// TestKeyRotation: with SigningKeys, URLs signed by an older key keep
// working while it is listed, and stop when it is dropped.
func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	old, cur := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	keys := [][]byte{old}
	var mu sync.Mutex
	a := newNode(t, "node-a", nil, nil)
	a.svc.cfg.SigningKeys = func() [][]byte { mu.Lock(); defer mu.Unlock(); return keys }
	url, err := a.svc.Create(ctx, testUpload(StoreLocal, []byte("abc")))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	keys = [][]byte{cur, old}
	mu.Unlock()
	if off, resp := tusHead(t, url); off != 0 {
		t.Fatalf("HEAD after rotation: %d", resp.StatusCode)
	}
	mu.Lock()
	keys = [][]byte{cur}
	mu.Unlock()
	if _, resp := tusHead(t, url); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("HEAD after the old key went: %d", resp.StatusCode)
	}
}

// TestFinaliseRetried: when storing a complete, verified upload fails, the
// client does not get its 204 until a later request (or GC) has stored and
// published it.
// TestAuthorizeWithoutToken: a tus request without the URL token goes to
// Config.Authorize (the player's own credential), else it gets 401.
func TestAuthorizeWithoutToken(t *testing.T) {
	ctx := context.Background()
	a := newNode(t, "node-a", nil, nil)
	a.svc.cfg.Authorize = func(r *http.Request, u Upload) error {
		if r.Header.Get("Authorization") == "Bearer "+u.Owner {
			return nil
		}
		return errors.New("not the owner")
	}
	data := []byte("authorised bytes")
	url, err := a.svc.Create(ctx, testUpload(StoreLocal, data))
	if err != nil {
		t.Fatal(err)
	}
	bare := url[:strings.Index(url, "?")]
	do := func(auth string) int {
		req, _ := http.NewRequest(http.MethodPatch, bare, bytes.NewReader(data))
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		req.Header.Set("Upload-Offset", "0")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do("Bearer player2"); code != http.StatusForbidden {
		t.Fatalf("another player's credential: %d, want 403", code)
	}
	if code := do("Bearer player1"); code != http.StatusNoContent {
		t.Fatalf("the owner's credential: %d, want 204", code)
	}
}

// TestForwarding: a request for content held by a node that is unknown or
// down gets 503, and a request forwarded to a node that is not the holder
// (a wrong membership view) is not forwarded again.
func TestForwarding(t *testing.T) {
	ctx := context.Background()
	peers := map[string]*node{}
	a := newNode(t, "node-a", nil, peers)
	b := newNode(t, "node-b", nil, peers)
	ref := Ref{Tenant: "acme", Project: "game1", SHA256: sum([]byte("x")), Store: StoreLocal, Holder: "node-c"}
	dl, err := a.svc.DownloadURL(ctx, ref, "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, dl, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("holder unknown: %d, want 503", resp.StatusCode)
	}
	// node-c "resolves" to node b, which is not node-c either.
	peers["node-c"] = b
	if resp, _ := get(t, dl, nil); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("forwarded to a non-holder: %d, want 421", resp.StatusCode)
	}
}

// TestS3ConcurrentWriters: two nodes writing one s3 upload at once with
// different bytes (tusd's lock is per process) may make it fail, but never
// leave a blob whose bytes do not hash to its key.
// TestChunkSizes: a client that PATCHes in chunks smaller than a part, of
// a part's size, and odd sizes, gets the same bytes stored (tails, early
// parts and the final part in every combination).
// TestS3Credentials: without credentials in the environment or the file,
// New refuses to start rather than failing the first upload.
type statusErr struct {
	code int
	msg  string
}

func (e statusErr) Error() string   { return e.msg }
func (e statusErr) StatusCode() int { return e.code }

// TestRunDuringUploads: the GC loop running every few milliseconds beside
// concurrent uploads (some cut and resumed) takes nothing that is in use
// (run with -race).

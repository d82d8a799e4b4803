package blob

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

func TestS3OrphanMultipart(t *testing.T) {
	cfg := s3Config(t)
	ctx := context.Background()
	a := newNode(t, "node-a", cfg, nil)
	data := randomBytes(1<<20, 7)
	if _, err := a.svc.Create(ctx, testUpload(StoreS3, data)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.s3.c.NewMultipartUpload(ctx, cfg.Bucket, cfg.Prefix+"blobs/acme/game1/"+sum([]byte("orphan")), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		res, err := a.svc.s3.c.ListMultipartUploads(ctx, cfg.Bucket, "", "", "", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Uploads)
	}
	a.Collect(ctx)
	if n := count(); n != 2 {
		t.Fatalf("%d multipart uploads after a GC pass, want 2 (orphan too young)", n)
	}
	a.setClock(time.Now().Add(2 * orphanAge))
	a.Collect(ctx)
	if n := count(); n != 1 {
		t.Fatalf("%d multipart uploads after the orphan aged, want 1", n)
	}
}

func TestFinaliseRetried(t *testing.T) {
	ctx := context.Background()
	a := newNode(t, "node-a", nil, nil)
	data := randomBytes(100<<10, 8)
	url, err := a.svc.Create(ctx, testUpload(StoreLocal, data))
	if err != nil {
		t.Fatal(err)
	}
	// A file where the project's blob directory should be makes the
	// finalisation fail.
	block := filepath.Join(a.dir, "ugc", "blobs", "acme")
	if err := os.WriteFile(block, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _ := tusPatch(t, url, 0, data); code/100 == 2 {
		t.Fatalf("PATCH answered %d although the blob could not be stored", code)
	}
	if _, resp := tusHead(t, url); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("HEAD while storing still fails: %d, want 503", resp.StatusCode)
	}
	if len(a.completions()) != 0 {
		t.Fatal("published before stored")
	}
	os.Remove(block)
	if off, resp := tusHead(t, url); off != int64(len(data)) {
		t.Fatalf("HEAD after the fault cleared: %d", resp.StatusCode)
	}
	if len(a.completions()) != 1 {
		t.Fatalf("completions %v", a.completions())
	}
	a.Collect(ctx)
	if len(a.completions()) != 1 {
		t.Fatal("GC published twice")
	}
}

func TestS3ConcurrentWriters(t *testing.T) {
	cfg := s3Config(t)
	ctx := context.Background()
	peers := map[string]*node{}
	a := newNode(t, "node-a", cfg, peers)
	b := newNode(t, "node-b", cfg, peers)
	for round := 0; round < 2; round++ {
		good := randomBytes(9<<20, uint64(100+round))
		bad := randomBytes(9<<20, uint64(200+round))
		url, err := a.svc.Create(ctx, testUpload(StoreS3, good))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); tusPatch(t, url, 0, good) }()
		go func() { defer wg.Done(); tusPatch(t, onNode(url, a, b), 0, bad) }()
		wg.Wait()
		mc := testMinio(t)
		key := cfg.Prefix + "blobs/acme/game1/" + sum(good)
		obj, err := mc.GetObject(ctx, cfg.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		_, rerr := got.ReadFrom(obj)
		obj.Close()
		if rerr == nil && sum(got.Bytes()) != sum(good) {
			t.Fatalf("round %d: the blob under %s holds other bytes", round, sum(good))
		}
		t.Logf("round %d: blob stored: %v; completions a=%d b=%d", round, rerr == nil, len(a.completions()), len(b.completions()))
		mc.RemoveObject(ctx, cfg.Bucket, key, minio.RemoveObjectOptions{})
	}
}

func TestChunkSizes(t *testing.T) {
	stores(t, func(t *testing.T, store string, s3 func() *S3Config) {
		ctx := context.Background()
		a := newNode(t, "node-a", s3(), nil)
		for _, chunk := range []int{2 << 20, 6<<20 + 7} {
			data := randomBytes(9<<20+5, uint64(chunk))
			url, err := a.svc.Create(ctx, testUpload(store, data))
			if err != nil {
				t.Fatal(err)
			}
			for off := 0; off < len(data); off += chunk {
				end := min(off+chunk, len(data))
				if code, body := tusPatch(t, url, int64(off), data[off:end]); code != http.StatusNoContent {
					t.Fatalf("chunk %d at %d: %d %s", chunk, off, code, body)
				}
			}
			c := a.completions()
			dl, err := a.svc.DownloadURL(ctx, c[len(c)-1], "", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if resp, body := get(t, dl, nil); resp.StatusCode != 200 || sum(body) != sum(data) {
				t.Fatalf("chunk %d: download %d, %d bytes", chunk, resp.StatusCode, len(body))
			}
		}
	})
}

func TestS3Credentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_ACCESS_KEY", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SECRET_KEY", "")
	cfg := Config{Node: "n", DataDir: t.TempDir(), SigningKey: testKey, PublicURL: "http://n",
		S3: &S3Config{Endpoint: "http://127.0.0.1:1", Bucket: "b"}}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Fatalf("New without credentials: %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "id")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	if _, err := New(cfg); err != nil {
		t.Fatalf("New with env credentials: %v", err)
	}
	cfg.S3.CredentialsFile = filepath.Join(t.TempDir(), "missing")
	if _, err := New(cfg); err == nil {
		t.Fatal("New with a missing credentials file succeeded")
	}
}

// TestRunDuringUploads runs the collector every 5 ms beside concurrent
// uploads. A pass that takes the lock of an upload in flight makes tusd
// v2.9.1 interrupt that request, and tusd's cancel goroutine then reads
// the request body unsynchronised (a data race in tusd itself, reported by
// -race one run in a few; docs/ugc-storage.md). It is a stress test, run
// with CASSNET_UGC_STRESS=1, until that is fixed upstream or worked around.
func TestRunDuringUploads(t *testing.T) {
	if os.Getenv("CASSNET_UGC_STRESS") == "" {
		t.Skip("stress test: set CASSNET_UGC_STRESS=1 (tusd v2.9.1 races when an upload in flight is interrupted)")
	}
	stores(t, func(t *testing.T, store string, s3 func() *S3Config) {
		ctx, cancel := context.WithCancel(context.Background())
		a := newNode(t, "node-a", s3(), nil)
		a.svc.cfg.GCInterval = 5 * time.Millisecond
		done := make(chan error, 1)
		go func() { done <- a.svc.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				data := randomBytes(2<<20+i, uint64(300+i))
				url, err := a.svc.Create(ctx, testUpload(store, data))
				if err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 {
					tusPatchCut(t, url, 0, data, 1<<20)
				}
				off, _ := tusHead(t, url)
				if code, body := tusPatch(t, url, off, data[off:]); code != http.StatusNoContent {
					t.Errorf("upload %d: %d %s", i, code, body)
				}
			}()
		}
		wg.Wait()
		if n := len(a.completions()); n != 4 {
			t.Fatalf("%d completions, want 4 (rejections %q)", n, a.rejections())
		}
	})
}

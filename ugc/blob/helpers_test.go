package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// A real S3-compatible server for the s3 tests: versitygw with its posix
// backend, started once for the package on loopback. Without the binary
// the s3 tests skip, unless CI_REQUIRE_S3=1 (set by .ci/run, which
// installs it), where they fail.

const (
	testAccess = "cassnettest"
	testSecret = "cassnettestsecret"
)

var (
	vgwOnce     sync.Once
	vgwEndpoint string
	vgwErr      error
	vgwCmd      *exec.Cmd
	vgwDir      string
	bucketSeq   int
	bucketMu    sync.Mutex
)

func TestMain(m *testing.M) {
	code := m.Run()
	if vgwCmd != nil && vgwCmd.Process != nil {
		_ = vgwCmd.Process.Kill()
		_ = vgwCmd.Wait()
	}
	if vgwDir != "" {
		os.RemoveAll(vgwDir)
	}
	os.Exit(code)
}

func versitygwPath() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		if p := filepath.Join(gp, "bin", "versitygw"); fileExists(p) {
			return p
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		if p := filepath.Join(home, "go", "bin", "versitygw"); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func startVersity() (string, error) {
	bin := versitygwPath()
	if bin == "" {
		return "", errNoVersity
	}
	dir, err := os.MkdirTemp("", "cassnet-vgw-")
	if err != nil {
		return "", err
	}
	vgwDir = dir
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "--access", testAccess, "--secret", testSecret, "--port", addr, "--quiet", "posix", root)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	vgwCmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return "http://" + addr, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", errors.New("versitygw did not start listening")
}

var errNoVersity = errors.New("versitygw not installed")

// s3Config starts (once) versitygw and returns a config for a fresh bucket.
func s3Config(t testing.TB) *S3Config {
	t.Helper()
	vgwOnce.Do(func() { vgwEndpoint, vgwErr = startVersity() })
	if errors.Is(vgwErr, errNoVersity) {
		if os.Getenv("CI_REQUIRE_S3") == "1" {
			t.Fatalf("versitygw is required (CI_REQUIRE_S3=1) but not installed: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
		}
		t.Skip("versitygw not installed: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 to run the s3 tests")
	}
	if vgwErr != nil {
		t.Fatalf("versitygw: %v", vgwErr)
	}
	bucketMu.Lock()
	bucketSeq++
	bucket := fmt.Sprintf("ugc-test-%d-%d", os.Getpid(), bucketSeq)
	bucketMu.Unlock()
	mc := testMinio(t)
	if err := mc.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket: %v", err)
	}
	credFile := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(credFile, []byte("[default]\naws_access_key_id = "+testAccess+"\naws_secret_access_key = "+testSecret+"\n"), 0o600)
	return &S3Config{Endpoint: vgwEndpoint, Bucket: bucket, Prefix: "cassnet/", CredentialsFile: credFile, PathStyle: true}
}

func testMinio(t testing.TB) *minio.Client {
	t.Helper()
	mc, err := minio.New(vgwEndpoint[len("http://"):], &minio.Options{
		Creds: credentials.NewStaticV4(testAccess, testSecret, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

// node is one Service behind an httptest server, with the callbacks
// recorded.
type node struct {
	svc *Service
	srv *httptest.Server
	dir string

	mu        sync.Mutex
	completed []Ref
	rejected  []string
	failNext  error
	clock     time.Time // zero: real time
}

var testKey = bytes.Repeat([]byte{7}, 32)

func newNode(t testing.TB, name string, s3 *S3Config, peers map[string]*node) *node {
	t.Helper()
	n := &node{dir: t.TempDir()}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.svc.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(n.srv.Close)
	svc, err := New(Config{Node: name, DataDir: n.dir, SigningKey: testKey, S3: s3, PublicURL: n.srv.URL,
		Resolve: func(other string) (string, bool) {
			p, ok := peers[other]
			if !ok {
				return "", false
			}
			return p.srv.URL, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	svc.now = func() time.Time {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.clock.IsZero() {
			return time.Now()
		}
		return n.clock
	}
	svc.OnComplete(func(ctx context.Context, u Upload, ref Ref) error {
		n.mu.Lock()
		defer n.mu.Unlock()
		if err := n.failNext; err != nil {
			n.failNext = nil
			return err
		}
		n.completed = append(n.completed, ref)
		return nil
	})
	svc.OnReject(func(ctx context.Context, u Upload, reason string) {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.rejected = append(n.rejected, reason)
	})
	n.svc = svc
	if peers != nil {
		peers[name] = n
	}
	return n
}

func (n *node) setClock(t time.Time) { n.mu.Lock(); n.clock = t; n.mu.Unlock() }

func (n *node) rejections() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.rejected...)
}

func (n *node) completions() []Ref {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Ref(nil), n.completed...)
}

func randomBytes(size int, seed uint64) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	b := make([]byte, size)
	r.Read(b)
	return b
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func testUpload(store string, data []byte) Upload {
	return Upload{Tenant: "acme", Project: "game1", Item: "item1", Version: "v1", Owner: "player1",
		Size: int64(len(data)), SHA256: sum(data), ContentType: "application/zip", Filename: "map.zip", Store: store}
}

// tusHead returns the Upload-Offset of an upload.
func tusHead(t testing.TB, url string) (int64, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodHead, url, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return -1, resp
	}
	off, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		t.Fatalf("HEAD: Upload-Offset %q", resp.Header.Get("Upload-Offset"))
	}
	return off, resp
}

// tusPatch sends data at offset; it returns the response status and body.
func tusPatch(t testing.TB, url string, offset int64, data []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPatch, url, bytes.NewReader(data))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// tusPatchCut starts a PATCH announcing all of data, sends only the first
// cut bytes, then breaks the connection, as a client losing its network.
func tusPatchCut(t testing.TB, url string, offset int64, data []byte, cut int) {
	t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPatch, url, pr)
	req.ContentLength = int64(len(data))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	go func() {
		pw.Write(data[:cut])
		time.Sleep(100 * time.Millisecond)
		pw.CloseWithError(errors.New("network lost"))
	}()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("cut PATCH succeeded with %d", resp.StatusCode)
	}
}

func get(t testing.TB, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// stores runs f for the local store and for s3 on versitygw.
func stores(t *testing.T, f func(t *testing.T, store string, s3 func() *S3Config)) {
	t.Run("local", func(t *testing.T) { f(t, StoreLocal, func() *S3Config { return nil }) })
	t.Run("s3", func(t *testing.T) {
		cfg := s3Config(t)
		f(t, StoreS3, func() *S3Config { return cfg })
	})
}

func t0ctx() context.Context { return context.Background() }

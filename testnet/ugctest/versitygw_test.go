package ugctest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// A real S3-compatible server for the s3 store's tests: versitygw with its
// posix backend in the test's temporary directory, on loopback. Without
// the binary the test skips, unless CI_REQUIRE_S3=1 (set by .ci/run, which
// installs it), where it fails. (A copy of ugc/blob's test helper: test
// code is not shared across packages.)

// s3Server is a running versitygw with one bucket.
type s3Server struct {
	Endpoint, Bucket, Access, Secret string
	mc                               *minio.Client
}

func versitygwPath() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	var dirs []string
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		dirs = append(dirs, filepath.Join(strings.TrimSpace(string(out)), "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		if p := filepath.Join(d, "versitygw"); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// startVersity starts versitygw for t (stopped at its end) and makes a
// bucket.
func startVersity(t *testing.T, access, secret, bucket string) *s3Server {
	t.Helper()
	bin := versitygwPath()
	if bin == "" {
		const how = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"
		if os.Getenv("CI_REQUIRE_S3") == "1" {
			t.Fatalf("versitygw is required (CI_REQUIRE_S3=1) but not installed: %s", how)
		}
		t.Skipf("versitygw not installed: %s to run the s3 store's integration test", how)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	root := filepath.Join(t.TempDir(), "s3root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--access", access, "--secret", secret, "--port", addr, "--quiet", "posix", root)
	// Its own output would show the credentials' use, not the agents'.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("versitygw did not start listening")
		}
		time.Sleep(50 * time.Millisecond)
	}
	mc, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(access, secret, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket: %v", err)
	}
	return &s3Server{Endpoint: "http://" + addr, Bucket: bucket, Access: access, Secret: secret, mc: mc}
}

// keys lists the object keys under prefix.
func (s *s3Server) keys(t *testing.T, ctx context.Context, prefix string) []string {
	t.Helper()
	var out []string
	for o := range s.mc.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list %s: %v", prefix, o.Err)
		}
		out = append(out, o.Key)
	}
	return out
}

// multiparts lists the keys of the incomplete multipart uploads under
// prefix.
func (s *s3Server) multiparts(t *testing.T, ctx context.Context, prefix string) []string {
	t.Helper()
	var out []string
	for u := range s.mc.ListIncompleteUploads(ctx, s.Bucket, prefix, true) {
		if u.Err != nil {
			t.Fatalf("list multipart uploads %s: %v", prefix, u.Err)
		}
		out = append(out, u.Key)
	}
	return out
}

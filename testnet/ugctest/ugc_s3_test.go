package ugctest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

// TestUGCS3: the same pipeline on the s3 store, against a real versitygw:
// a 20 MiB upload to n1 cut halfway by a lost connection and resumed,
// published, downloaded from n3 through the presigned URL with the same
// sha256; the node's --ugc-max-upload-bytes enforced; a wrong checksum rejected with nothing of it left in the bucket;
// the same bytes in another item of the project reusing the one object;
// after both items are deleted and a collection pass, the object gone from
// the bucket. The credentials reach the agents only through their
// environment, and appear in none of their logs.
func TestUGCS3(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real agent processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const access, secret, prefix = "cassnetugcaccess", "cassnet-ugc-s3-secret-Zq81", "cassnet/"
	const maxUpload = 24 << 20 // --ugc-max-upload-bytes reaches the blob service
	s3 := startVersity(t, access, secret, "ugc")
	c, _ := startClusterWith(t, ctx, 3,
		[]string{"--ugc-s3-endpoint", s3.Endpoint, "--ugc-s3-bucket", s3.Bucket, "--ugc-s3-prefix", prefix, "--ugc-s3-path-style",
			"--ugc-max-upload-bytes", strconv.Itoa(maxUpload)},
		[]string{"AWS_ACCESS_KEY_ID=" + access, "AWS_SECRET_ACCESS_KEY=" + secret})
	n := c.Nodes()
	t.Cleanup(func() {
		for _, nd := range n {
			b, err := os.ReadFile(nd.LogPath())
			if err != nil {
				t.Errorf("%s log: %v", nd.Name, err)
				continue
			}
			for _, cred := range []string{secret, access} {
				if bytes.Contains(b, []byte(cred)) {
					t.Errorf("%s's log shows an S3 credential", nd.Name)
				}
			}
		}
	})
	op := api{t: t, cred: c.AdminToken(), hc: noRedirect()}
	op.must(ctx, n[0], "POST", "/v1/tenants", map[string]string{"name": "acme"}, 201, nil)
	op.must(ctx, n[0], "POST", "/v1/tenants/acme/projects", map[string]string{"name": "game"}, 201, nil)
	op.must(ctx, n[0], "PUT", base+"/settings", map[string]any{"store": "s3"}, 200, nil)
	var s struct {
		Token string `json:"token"`
	}
	op.must(ctx, n[0], "POST", "/v1/tenants/acme/sessions", map[string]string{"player_id": "p1"}, 201, &s)
	p1 := api{t: t, cred: s.Token, hc: noRedirect()}
	blobs := prefix + "blobs/acme/game/"

	newVersion := func(node *testnet.Node, item string, size int, sum string) upload {
		t.Helper()
		var up upload
		p1.must(ctx, node, "POST", base+"/items/"+item+"/versions", map[string]any{"filename": "map.zip", "size": size,
			"sha256": sum, "content_type": "application/zip"}, 201, &up)
		if up.Protocol != "tus" || !strings.Contains(up.UploadURL, node.HTTPAddr()) {
			t.Fatalf("upload %+v", up)
		}
		return up
	}
	published := func(id, ver string) {
		t.Helper()
		waitFor(t, ctx, func() error {
			var got item
			p1.must(ctx, n[1], "GET", base+"/items/"+id, nil, 200, &got)
			if got.LiveVersion != ver || got.State != "approved" {
				return fmt.Errorf("item on n2: %+v", got)
			}
			return nil
		})
	}

	// 20 MiB to n1: the connection is lost halfway, the upload resumes
	// where the stored bytes end.
	var a item
	p1.must(ctx, n[0], "POST", base+"/items", map[string]any{"title": "Castle"}, 201, &a)
	data, sum := randomBytes(t, 20<<20)
	up := newVersion(n[0], a.ID, len(data), sum)
	hc := &http.Client{Timeout: time.Minute}
	cutPatch(t, ctx, up.UploadURL, data, len(data)/2)
	off, err := testnet.TusHead(ctx, hc, up.UploadURL)
	if err != nil || off <= 0 || off > int64(len(data)/2) {
		t.Fatalf("offset after the cut: %d %v (cut at %d)", off, err, len(data)/2)
	}
	t.Logf("the node kept %d of the %d bytes sent before the cut", off, len(data)/2)
	if err := testnet.TusUpload(ctx, hc, up.UploadURL, data, 4<<20, 0); err != nil {
		t.Fatalf("resume: %v", err)
	}
	published(a.ID, up.VersionID)
	if keys := s3.keys(t, ctx, blobs); !slices.Equal(keys, []string{blobs + sum}) {
		t.Fatalf("blobs in the bucket: %v", keys)
	}

	// The node's upload limit holds below the project's (512 MiB).
	p1.must(ctx, n[2], "POST", base+"/items/"+a.ID+"/versions", map[string]any{"filename": "big.zip", "size": maxUpload + 1,
		"sha256": sum, "content_type": "application/zip"}, 413, nil)

	// Downloaded from n3 through the presigned URL, straight from the
	// bucket.
	code, body, hdr := p1.do(ctx, n[2], "GET", base+"/items/"+a.ID+"/versions/"+up.VersionID+"/download", nil)
	if code != 302 {
		t.Fatalf("download: %d %s", code, body)
	}
	loc, err := url.Parse(hdr.Get("Location"))
	if err != nil || "http://"+loc.Host != s3.Endpoint || loc.Query().Get("X-Amz-Signature") == "" {
		t.Fatalf("download URL %q is not presigned for the bucket: %v", hdr.Get("Location"), err)
	}
	resp, err := hc.Get(loc.String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if h := sha256.Sum256(got); resp.StatusCode != 200 || hex.EncodeToString(h[:]) != sum {
		t.Fatalf("downloaded %d bytes (status %d), sha256 differs", len(got), resp.StatusCode)
	}

	// A wrong checksum (6 MiB, so a part was already written): rejected,
	// and nothing of it stays in the bucket: no blob, record, tail or
	// multipart upload.
	bad, _ := randomBytes(t, 6<<20)
	_, declared := randomBytes(t, 16)
	up = newVersion(n[1], a.ID, len(bad), declared)
	badID := path.Base(strings.SplitN(up.UploadURL, "?", 2)[0])
	_ = testnet.TusUpload(ctx, hc, up.UploadURL, bad, 0, 0) // the last PATCH answers the mismatch
	waitFor(t, ctx, func() error {
		var vs struct {
			Versions []version `json:"versions"`
		}
		p1.must(ctx, n[2], "GET", base+"/items/"+a.ID+"/versions", nil, 200, &vs)
		for _, v := range vs.Versions {
			if v.ID == up.VersionID {
				if v.State == "rejected" && strings.Contains(v.Reason, "mismatch") {
					return nil
				}
				return fmt.Errorf("bad upload is %s (%q)", v.State, v.Reason)
			}
		}
		return fmt.Errorf("version %s not listed", up.VersionID)
	})
	all := s3.keys(t, ctx, "")
	for _, k := range all {
		if strings.Contains(k, badID) || strings.Contains(k, declared) {
			t.Errorf("the rejected upload left %s in the bucket", k)
		}
	}
	if mp := s3.multiparts(t, ctx, prefix); len(mp) > 0 {
		t.Errorf("multipart uploads left: %v", mp)
	}
	if keys := s3.keys(t, ctx, blobs); !slices.Equal(keys, []string{blobs + sum}) {
		t.Fatalf("blobs after the rejection: %v (bucket: %v)", keys, all)
	}

	// The same bytes in another item of the project (uploaded in full to
	// n2): published on the one object.
	var b item
	p1.must(ctx, n[1], "POST", base+"/items", map[string]any{"title": "Castle again"}, 201, &b)
	up = newVersion(n[1], b.ID, len(data), sum)
	if err := testnet.TusUpload(ctx, hc, up.UploadURL, data, 8<<20, 0); err != nil {
		t.Fatalf("second upload: %v", err)
	}
	published(b.ID, up.VersionID)
	if keys := s3.keys(t, ctx, blobs); !slices.Equal(keys, []string{blobs + sum}) {
		t.Fatalf("blobs after the second upload: %v", keys)
	}

	// Deleting the first item keeps the object (still referenced, over
	// three collection passes); deleting the second lets it go.
	p1.must(ctx, n[2], "DELETE", base+"/items/"+a.ID, nil, 204, nil)
	time.Sleep(3 * time.Second)
	if keys := s3.keys(t, ctx, blobs); !slices.Equal(keys, []string{blobs + sum}) {
		t.Fatalf("blobs while the second item references it: %v", keys)
	}
	p1.must(ctx, n[0], "DELETE", base+"/items/"+b.ID, nil, 204, nil)
	waitFor(t, ctx, func() error {
		if keys := s3.keys(t, ctx, blobs); len(keys) > 0 {
			return fmt.Errorf("blobs after both deletions: %v", keys)
		}
		return nil
	})
	if mp := s3.multiparts(t, ctx, prefix); len(mp) > 0 {
		t.Errorf("multipart uploads left: %v", mp)
	}
}

// cutPatch starts a PATCH at offset 0 announcing all of data, sends only
// the first cut bytes, then breaks the connection, as a client losing its
// network.
func cutPatch(t *testing.T, ctx context.Context, uploadURL string, data []byte, cut int) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, uploadURL, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(data))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.Itoa(0))
	go func() {
		_, _ = pw.Write(data[:cut])
		time.Sleep(200 * time.Millisecond)
		pw.CloseWithError(errors.New("network lost"))
	}()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("the cut PATCH succeeded with %d", resp.StatusCode)
	}
}

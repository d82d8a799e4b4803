package blob

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// Upload throughput through the node (one tus PATCH of benchSize per op,
// verification and completion included) for each store, beside a direct
// single PUT of the same bytes to the same S3 server in the same run.
// go test -run '^$' -bench Upload -benchtime 5x ./ugc/blob

const benchSize = 64 << 20

func benchUpload(b *testing.B, store string, s3 *S3Config) {
	ctx := context.Background()
	n := newNode(b, "node-a", s3, nil)
	data := randomBytes(benchSize, 9)
	u := testUpload(store, data)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		url, err := n.svc.Create(ctx, u)
		if err != nil {
			b.Fatal(err)
		}
		if code, body := tusPatch(b, url, 0, data); code != http.StatusNoContent {
			b.Fatalf("PATCH: %d %s", code, body)
		}
		b.StopTimer()
		refs := n.completions()
		if err := n.svc.Delete(ctx, refs[len(refs)-1]); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func BenchmarkUploadLocal(b *testing.B) { benchUpload(b, StoreLocal, nil) }

func BenchmarkUploadS3Tus(b *testing.B) { benchUpload(b, StoreS3, s3Config(b)) }

func BenchmarkUploadS3DirectPut(b *testing.B) {
	cfg := s3Config(b)
	mc := testMinio(b)
	core := minio.Core{Client: mc}
	data := randomBytes(benchSize, 9)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key := fmt.Sprintf("direct/%d", i)
		if _, err := core.PutObject(context.Background(), cfg.Bucket, key, bytes.NewReader(data), benchSize, "", "", minio.PutObjectOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDownloadLocal: a signed local download served with
// http.ServeContent.
func BenchmarkDownloadLocal(b *testing.B) {
	ctx := context.Background()
	n := newNode(b, "node-a", nil, nil)
	data := randomBytes(benchSize, 10)
	url, err := n.svc.Create(ctx, testUpload(StoreLocal, data))
	if err != nil {
		b.Fatal(err)
	}
	if code, _ := tusPatch(b, url, 0, data); code != http.StatusNoContent {
		b.Fatal(code)
	}
	dl, err := n.svc.DownloadURL(ctx, n.completions()[0], "x.bin", 0)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if resp, body := get(b, dl, nil); resp.StatusCode != 200 || len(body) != benchSize {
			b.Fatal(resp.StatusCode)
		}
	}
}

// BenchmarkUploadS3Pair alternates, in every iteration, one tus upload
// through the node and one direct single PUT of the same bytes to the
// same server, so both see the same machine load; it reports each one's
// MB/s and their ratio.
func BenchmarkUploadS3Pair(b *testing.B) {
	ctx := context.Background()
	cfg := s3Config(b)
	n := newNode(b, "node-a", cfg, nil)
	core := minio.Core{Client: testMinio(b)}
	data := randomBytes(benchSize, 11)
	u := testUpload(StoreS3, data)
	var tusTime, putTime time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		url, err := n.svc.Create(ctx, u)
		if err != nil {
			b.Fatal(err)
		}
		if code, body := tusPatch(b, url, 0, data); code != http.StatusNoContent {
			b.Fatalf("PATCH: %d %s", code, body)
		}
		tusTime += time.Since(start)
		refs := n.completions()
		if err := n.svc.Delete(ctx, refs[len(refs)-1]); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if _, err := core.PutObject(ctx, cfg.Bucket, fmt.Sprintf("direct/%d", i), bytes.NewReader(data), benchSize, "", "", minio.PutObjectOptions{}); err != nil {
			b.Fatal(err)
		}
		putTime += time.Since(start)
	}
	mb := float64(benchSize) * float64(b.N) / 1e6
	b.ReportMetric(mb/tusTime.Seconds(), "tus_MB/s")
	b.ReportMetric(mb/putTime.Seconds(), "put_MB/s")
	b.ReportMetric(putTime.Seconds()/tusTime.Seconds(), "tus/put")
}

package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Store keeps everything in one bucket under Prefix:
//
//	uploads/<id>.json   record (so any node can resume the upload)
//	uploads/<id>.tail   bytes received that do not fill a part yet
//	blobs/<tenant>/<project>/<sha256>
//
// The multipart upload is opened on the blob's final key: the key is the
// declared sha256 and the upload is completed only after the incremental
// digest matched, so no unverified object ever appears under a content key.
type s3Store struct {
	c      *minio.Core
	bucket string
	prefix string
	bufs   sync.Pool // *[]byte of minPartSize capacity: two per active write
	// writers bounds concurrent writes, so part buffers stay under
	// cap(writers) × 2 × part size (64 × 16 MiB = 1 GiB by default).
	writers chan struct{}
}

func (s *s3Store) getBuf(size int64) []byte {
	if size == minPartSize {
		if b, ok := s.bufs.Get().(*[]byte); ok {
			return (*b)[:0]
		}
	}
	return make([]byte, 0, size)
}

func (s *s3Store) putBuf(b []byte) {
	if cap(b) == minPartSize {
		b = b[:0]
		s.bufs.Put(&b)
	}
}

// Part sizes: S3 wants at least 5 MiB per part except the last and at most
// 10,000 parts (tusd#1247). The size is known at creation (no deferred
// length), so the part size is chosen then: 8 MiB, or larger so that the
// upload needs at most maxParts parts. 512 MiB is 64 parts.
const (
	s3OpTimeout  = 5 * time.Minute
	maxS3Writers = 64
	minPartSize  = 8 << 20
	maxParts     = 1000
)

// earlyPart is the least a PATCH must leave over for it to become a part
// of its own instead of a tail: S3's 5 MiB minimum, and enough that
// parts of that size still fit in 9,000.
func earlyPart(size int64) int64 {
	return max(5<<20, (size+8999)/9000)
}

func partSize(size int64) int64 {
	p := int64(minPartSize)
	if need := (size + maxParts - 1) / maxParts; need > p {
		p = (need + 1<<20 - 1) &^ (1<<20 - 1)
	}
	return p
}

func newS3Store(cfg *S3Config) (*s3Store, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("blob: s3 endpoint %q: want http(s)://host[:port]", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("blob: s3 bucket is empty")
	}
	var creds *credentials.Credentials
	where := "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
	if cfg.CredentialsFile != "" {
		creds = credentials.NewFileAWSCredentials(cfg.CredentialsFile, "default")
		where = cfg.CredentialsFile
	} else {
		creds = credentials.NewEnvAWS()
	}
	// Fail at start, not at the first upload, when there are none.
	if v, err := creds.Get(); err != nil || v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return nil, fmt.Errorf("blob: s3: no credentials in %s (%v)", where, err)
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.NewCore(u.Host, &minio.Options{Creds: creds, Secure: u.Scheme == "https",
		Region: region, BucketLookup: lookup})
	if err != nil {
		return nil, fmt.Errorf("blob: s3: %w", err)
	}
	p := strings.TrimPrefix(cfg.Prefix, "/")
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return &s3Store{c: c, bucket: cfg.Bucket, prefix: p, writers: make(chan struct{}, maxS3Writers)}, nil
}

func (s *s3Store) recKey(id string) string  { return s.prefix + "uploads/" + id + ".json" }
func (s *s3Store) tailKey(id string) string { return s.prefix + "uploads/" + id + ".tail" }
func (s *s3Store) blobKey(r Ref) string     { return s.prefix + "blobs/" + r.Key() }

func isNoSuchKey(err error) bool {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code == "NoSuchKey" || er.Code == "NoSuchUpload" || er.StatusCode == http.StatusNotFound
	}
	return false
}

func (s *s3Store) begin(ctx context.Context, rec *record) error {
	rec.PartSize = partSize(rec.Upload.Size)
	id, err := s.c.NewMultipartUpload(ctx, s.bucket, s.blobKey(rec.ref("")),
		minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return fmt.Errorf("blob: s3 create multipart upload: %w", err)
	}
	rec.MultipartID = id
	return s.save(ctx, rec)
}

func (s *s3Store) load(ctx context.Context, id string) (*record, error) {
	b, err := s.get(ctx, s.recKey(id))
	if isNoSuchKey(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("blob: s3 load upload: %w", err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("blob: upload record %s: %w", id, err)
	}
	return &rec, nil
}

func (s *s3Store) get(ctx context.Context, key string) ([]byte, error) {
	rc, _, _, err := s.c.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func (s *s3Store) put(ctx context.Context, key string, b []byte) error {
	_, err := s.c.PutObject(ctx, s.bucket, key, bytes.NewReader(b), int64(len(b)), "", "", minio.PutObjectOptions{})
	return err
}

func (s *s3Store) save(ctx context.Context, rec *record) error {
	rec.Updated = time.Now()
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := s.put(ctx, s.recKey(rec.Upload.ID), b); err != nil {
		return fmt.Errorf("blob: s3 save upload: %w", err)
	}
	return nil
}

// write fills parts of rec.PartSize from the saved tail and src, uploads
// each full part, and stores what is left as the tail object. Reading the
// next part from the client overlaps uploading the previous one (two
// buffers). Bytes enter the hash only once they are durable (in an
// uploaded part or the stored tail), in order, so rec.Offset never counts
// bytes S3 does not have (tusd#376).
func (s *s3Store) write(ctx context.Context, rec *record, src io.Reader) (int64, error) {
	// Each write holds two part buffers: bound how many run at once.
	select {
	case s.writers <- struct{}{}:
		defer func() { <-s.writers }()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	// tusd cancels ctx when the client goes away or another request
	// takes the lock; what was received must still be stored.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s3OpTimeout)
	defer cancel()
	h, err := rec.hasher()
	if err != nil {
		return 0, err
	}
	free := make(chan []byte, 2)
	free <- s.getBuf(rec.PartSize)
	free <- s.getBuf(rec.PartSize)
	defer func() { // the uploader is done by then: recycle what came back
		for {
			select {
			case b := <-free:
				s.putBuf(b)
			default:
				return
			}
		}
	}()
	buf := <-free
	if rec.Tail > 0 {
		tail, err := s.readTail(ctx, rec)
		if err != nil {
			return 0, err
		}
		buf = append(buf, tail...)
	}
	hashed := len(buf) // buf[:hashed] is already in h (the old tail)

	// The uploader owns rec, h and n until done is closed.
	type full struct {
		buf    []byte
		hashed int
	}
	var n int64
	var upErr error
	var failed atomic.Bool // lets the reader stop early; upErr is read after done
	parts := make(chan full)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range parts {
			if upErr == nil {
				num := len(rec.Parts) + 1
				part, err := s.c.PutObjectPart(ctx, s.bucket, s.blobKey(rec.ref("")), rec.MultipartID, num,
					bytes.NewReader(p.buf), int64(len(p.buf)), minio.PutObjectPartOptions{})
				if err != nil {
					upErr = fmt.Errorf("blob: s3 upload part %d: %w", num, err)
					failed.Store(true)
				} else {
					h.Write(p.buf[p.hashed:])
					n += int64(len(p.buf) - p.hashed)
					rec.Offset += int64(len(p.buf) - p.hashed)
					rec.Parts = append(rec.Parts, s3Part{Number: num, ETag: part.ETag, Size: int64(len(p.buf))})
					rec.Tail, rec.TailSHA256 = 0, ""
				}
			}
			free <- p.buf[:0]
		}
	}()
	var srcErr error
	for {
		m, rerr := io.ReadFull(src, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			srcErr = rerr
		}
		if len(buf) < cap(buf) {
			break // src ended (or failed) inside this part
		}
		parts <- full{buf, hashed}
		buf, hashed = <-free, 0
		if rerr != nil || failed.Load() {
			break
		}
	}
	close(parts)
	<-done
	persist := func() error {
		if err := rec.setHash(h); err != nil {
			return err
		}
		if rec.Offset == rec.Upload.Size {
			rec.State = stateFull
		}
		return s.save(ctx, rec)
	}
	if upErr != nil {
		free <- buf
		// What is durable is the parts before the failed one (and the
		// old tail, still in its object if it was not consumed).
		if err := persist(); err != nil {
			return n, err
		}
		return n, upErr
	}
	newBytes := int64(len(buf) - hashed)
	if newBytes > 0 && (rec.Offset+newBytes == rec.Upload.Size || int64(len(buf)) >= earlyPart(rec.Upload.Size)) {
		// The upload's last bytes, or enough for a part of its own:
		// a part now, not a tail to write and read back.
		num := len(rec.Parts) + 1
		part, err := s.c.PutObjectPart(ctx, s.bucket, s.blobKey(rec.ref("")), rec.MultipartID, num,
			bytes.NewReader(buf), int64(len(buf)), minio.PutObjectPartOptions{})
		if err != nil {
			free <- buf
			if perr := persist(); perr != nil {
				return n, perr
			}
			return n, fmt.Errorf("blob: s3 upload part %d: %w", num, err)
		}
		h.Write(buf[hashed:])
		n += newBytes
		rec.Offset += newBytes
		rec.Parts = append(rec.Parts, s3Part{Number: num, ETag: part.ETag, Size: int64(len(buf))})
		rec.Tail, rec.TailSHA256 = 0, ""
	} else if len(buf) > hashed {
		if err := s.put(ctx, s.tailKey(rec.Upload.ID), buf); err != nil {
			free <- buf
			if perr := persist(); perr != nil {
				return n, perr
			}
			return n, fmt.Errorf("blob: s3 store tail: %w", err)
		}
		h.Write(buf[hashed:])
		n += int64(len(buf) - hashed)
		rec.Offset += int64(len(buf) - hashed)
		rec.Tail = int64(len(buf))
		rec.TailSHA256 = sum256(buf)
	}
	if err := persist(); err != nil {
		free <- buf
		return 0, err
	}
	free <- buf
	return n, srcErr
}

// readTail reads the tail object back and checks it is the one the record
// describes: a concurrent writer on another node (tusd's lock is per
// process) cannot slip other bytes into a blob through it. Parts are
// protected the same way by their ETags, which CompleteMultipartUpload
// checks.
func (s *s3Store) readTail(ctx context.Context, rec *record) ([]byte, error) {
	tail, err := s.get(ctx, s.tailKey(rec.Upload.ID))
	if err != nil {
		return nil, fmt.Errorf("blob: s3 read tail: %w", err)
	}
	if int64(len(tail)) != rec.Tail || sum256(tail) != rec.TailSHA256 {
		return nil, fmt.Errorf("blob: s3 tail of %s is not the one its record describes (a concurrent writer?)", rec.Upload.ID)
	}
	return tail, nil
}

func sum256(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func (s *s3Store) finalize(ctx context.Context, rec *record) (bool, error) {
	ref := rec.ref("")
	if ok, err := s.exists(ctx, ref); err != nil {
		return false, err
	} else if ok {
		return false, s.discard(ctx, rec)
	}
	parts := rec.Parts
	if rec.Tail > 0 {
		tail, err := s.readTail(ctx, rec)
		if err != nil {
			return false, err
		}
		num := len(parts) + 1
		p, err := s.c.PutObjectPart(ctx, s.bucket, s.blobKey(ref), rec.MultipartID, num,
			bytes.NewReader(tail), int64(len(tail)), minio.PutObjectPartOptions{})
		if err != nil {
			return false, fmt.Errorf("blob: s3 upload last part: %w", err)
		}
		parts = append(parts, s3Part{Number: num, ETag: p.ETag, Size: int64(len(tail))})
	}
	cp := make([]minio.CompletePart, len(parts))
	for i, p := range parts {
		cp[i] = minio.CompletePart{PartNumber: p.Number, ETag: p.ETag}
	}
	if _, err := s.c.CompleteMultipartUpload(ctx, s.bucket, s.blobKey(ref), rec.MultipartID, cp,
		minio.PutObjectOptions{}); err != nil {
		return false, fmt.Errorf("blob: s3 complete multipart upload: %w", err)
	}
	_ = s.c.RemoveObject(ctx, s.bucket, s.tailKey(rec.Upload.ID), minio.RemoveObjectOptions{})
	return true, nil
}

func (s *s3Store) discard(ctx context.Context, rec *record) error {
	if rec.MultipartID != "" {
		if err := s.c.AbortMultipartUpload(ctx, s.bucket, s.blobKey(rec.ref("")), rec.MultipartID); err != nil && !isNoSuchKey(err) {
			return fmt.Errorf("blob: s3 abort multipart upload: %w", err)
		}
	}
	if err := s.c.RemoveObject(ctx, s.bucket, s.tailKey(rec.Upload.ID), minio.RemoveObjectOptions{}); err != nil && !isNoSuchKey(err) {
		return fmt.Errorf("blob: s3 remove tail: %w", err)
	}
	return nil
}

func (s *s3Store) forget(ctx context.Context, id string) error {
	if err := s.c.RemoveObject(ctx, s.bucket, s.recKey(id), minio.RemoveObjectOptions{}); err != nil && !isNoSuchKey(err) {
		return fmt.Errorf("blob: s3 remove upload record: %w", err)
	}
	return nil
}

func (s *s3Store) ids(ctx context.Context) ([]string, error) {
	var out []string
	for o := range s.c.Client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "uploads/", Recursive: true}) {
		if o.Err != nil {
			return out, fmt.Errorf("blob: s3 list uploads: %w", o.Err)
		}
		name := strings.TrimPrefix(o.Key, s.prefix+"uploads/")
		if id, ok := strings.CutSuffix(name, ".json"); ok {
			out = append(out, id)
		}
	}
	return out, nil
}

func (s *s3Store) deleteBlob(ctx context.Context, ref Ref) error {
	if err := s.c.RemoveObject(ctx, s.bucket, s.blobKey(ref), minio.RemoveObjectOptions{}); err != nil && !isNoSuchKey(err) {
		return fmt.Errorf("blob: s3 delete %s: %w", ref.Key(), err)
	}
	return nil
}

func (s *s3Store) exists(ctx context.Context, ref Ref) (bool, error) {
	_, err := s.c.StatObject(ctx, s.bucket, s.blobKey(ref), minio.StatObjectOptions{})
	if isNoSuchKey(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blob: s3 stat: %w", err)
	}
	return true, nil
}

func (s *s3Store) presign(ctx context.Context, ref Ref, filename string, ttl time.Duration) (string, error) {
	q := url.Values{}
	if filename != "" {
		q.Set("response-content-disposition", contentDisposition(filename))
	}
	u, err := s.c.PresignedGetObject(ctx, s.bucket, s.blobKey(ref), ttl, q)
	if err != nil {
		return "", fmt.Errorf("blob: s3 presign: %w", err)
	}
	return u.String(), nil
}

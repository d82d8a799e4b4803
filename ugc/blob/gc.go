package blob

import (
	"context"
	"errors"
	"os"
	"time"
)

// Run collects garbage until ctx ends (tusd#435): uploads past their
// expiry lose their bytes and record (OnReject is told "expired"),
// completed uploads' records go at their expiry, finalisations that failed
// are retried, and staged files left without a record by a crash go.
// Local uploads are collected by their holder; s3 uploads by the nodes
// for which Config.CollectS3 says yes.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.GCInterval)
	defer t.Stop()
	for {
		s.Collect(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Collect runs one garbage collection pass now (Run calls it on a timer;
// tests and operators may call it directly).
func (s *Service) Collect(ctx context.Context) {
	s.collect(ctx, s.local)
	if s.s3 != nil && (s.cfg.CollectS3 == nil || s.cfg.CollectS3()) {
		if live, ok := s.collect(ctx, s.s3); ok {
			s.abortOrphans(ctx, live)
		}
	}
	if orphans, err := s.local.orphans(); err == nil {
		for _, p := range orphans {
			if st, err := os.Stat(p); err == nil && s.now().Sub(st.ModTime()) > DefaultUploadTTL {
				_ = os.Remove(p)
			}
		}
	}
}

// collect passes over b's upload records; it returns the multipart upload
// ids of the records that remain, and whether the listing was complete.
func (s *Service) collect(ctx context.Context, b backend) (map[string]bool, bool) {
	ids, err := b.ids(ctx)
	if err != nil {
		s.log.Warn("gc: listing uploads", "err", err)
		return nil, false
	}
	live := map[string]bool{}
	for _, id := range ids {
		if ctx.Err() != nil {
			return nil, false
		}
		mp, err := s.collectOne(ctx, b, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Warn("gc: upload", "upload", id, "err", err)
		}
		if mp != "" {
			live[mp] = true
		}
	}
	return live, true
}

// orphanAge is how old a multipart upload with no record must be before
// it is aborted: older than any Create between opening the multipart
// upload and saving its record.
const orphanAge = time.Hour

// fullGrace is how long a complete s3 upload is left to the node finishing
// it before the collector retries the finalisation itself.
const fullGrace = 2 * time.Minute

// abortOrphans aborts multipart uploads under the blob prefix that no
// record knows (a crash between opening one and saving its record), so
// no part is billed forever. A bucket lifecycle rule
// (AbortIncompleteMultipartUpload) is the belt to these braces.
func (s *Service) abortOrphans(ctx context.Context, live map[string]bool) {
	for mu := range s.s3.c.Client.ListIncompleteUploads(ctx, s.s3.bucket, s.s3.prefix+"blobs/", true) {
		if mu.Err != nil {
			s.log.Warn("gc: listing multipart uploads", "err", mu.Err)
			return
		}
		if live[mu.UploadID] || s.now().Sub(mu.Initiated) < orphanAge {
			continue
		}
		if err := s.s3.c.AbortMultipartUpload(ctx, s.s3.bucket, mu.Key, mu.UploadID); err != nil && !isNoSuchKey(err) {
			s.log.Warn("gc: aborting orphan multipart upload", "key", mu.Key, "err", err)
		}
	}
}

// multipartOf reads the multipart upload id of a record without
// collecting it, so an upload in use keeps its parts.
func (s *Service) multipartOf(ctx context.Context, b backend, id string) string {
	rec, err := b.load(ctx, id)
	if err != nil {
		return ""
	}
	return rec.MultipartID
}

// collectOne collects one upload; it returns the record's multipart
// upload id while the record stays.
func (s *Service) collectOne(ctx context.Context, b backend, id string) (string, error) {
	if s.inUse(id) {
		// A request holds or waits for the lock; asking for it would
		// make tusd interrupt that request's PATCH.
		return s.multipartOf(ctx, b, id), nil
	}
	lock, err := s.locker.NewLock(id)
	if err != nil {
		return "", err
	}
	lctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err = lock.Lock(lctx, func() {})
	cancel()
	if err != nil {
		return "", nil // in use by a request: not abandoned
	}
	defer lock.Unlock()
	rec, err := b.load(ctx, id)
	if err != nil {
		return "", err
	}
	keep := rec.MultipartID
	expired := !s.now().Before(rec.Upload.ExpiresAt)
	switch rec.State {
	case stateDone:
		if expired {
			return "", b.forget(ctx, id)
		}
	case stateFull:
		if !expired {
			// An s3 upload may be finishing on another node right
			// now (tusd's lock is per process): leave it a grace.
			if _, shared := b.(*s3Store); shared && time.Since(rec.Updated) < fullGrace {
				return keep, nil
			}
			return keep, s.finish(ctx, b, rec)
		}
		fallthrough
	default:
		if expired {
			if err := b.discard(ctx, rec); err != nil {
				return keep, err
			}
			if err := b.forget(ctx, id); err != nil {
				return keep, err
			}
			s.reject(ctx, rec.Upload, outcomeExpired, "expired before it was complete")
			return "", nil
		}
	}
	return keep, nil
}

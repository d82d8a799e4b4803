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
		s.collect(ctx, s.s3)
	}
	if orphans, err := s.local.orphans(); err == nil {
		for _, p := range orphans {
			if st, err := os.Stat(p); err == nil && s.now().Sub(st.ModTime()) > DefaultUploadTTL {
				_ = os.Remove(p)
			}
		}
	}
}

func (s *Service) collect(ctx context.Context, b backend) {
	ids, err := b.ids(ctx)
	if err != nil {
		s.log.Warn("gc: listing uploads", "err", err)
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		if err := s.collectOne(ctx, b, id); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Warn("gc: upload", "upload", id, "err", err)
		}
	}
}

func (s *Service) collectOne(ctx context.Context, b backend, id string) error {
	lock, err := s.locker.NewLock(id)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err = lock.Lock(lctx, func() {})
	cancel()
	if err != nil {
		return nil // in use by a request: not abandoned
	}
	defer lock.Unlock()
	rec, err := b.load(ctx, id)
	if err != nil {
		return err
	}
	expired := !s.now().Before(rec.Upload.ExpiresAt)
	switch rec.State {
	case stateDone:
		if expired {
			return b.forget(ctx, id)
		}
	case stateFull:
		if !expired {
			return s.finish(ctx, b, rec)
		}
		fallthrough
	default:
		if expired {
			if err := b.discard(ctx, rec); err != nil {
				return err
			}
			if err := b.forget(ctx, id); err != nil {
				return err
			}
			s.reject(ctx, rec.Upload, "expired before it was complete")
		}
	}
	return nil
}

package blob

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Service is one node's blob service. See the package doc for the
// concurrency contract.
type Service struct {
	cfg        Config
	onComplete func(ctx context.Context, u Upload, ref Ref) error
	onReject   func(ctx context.Context, u Upload, reason string)
}

// New checks cfg and returns a Service; it starts nothing (see Run).
func New(cfg Config) (*Service, error) {
	if len(cfg.SigningKey) < 32 {
		return nil, errors.New("blob: SigningKey must be at least 32 bytes")
	}
	return &Service{cfg: cfg}, nil
}

// Create registers an expected upload and returns its tus URL: a tus upload
// resource already created with Upload-Length = u.Size, carrying a signed
// token that expires with the upload.
func (s *Service) Create(ctx context.Context, u Upload) (uploadURL string, err error) {
	return "", errors.New("blob: not implemented yet")
}

// Handler serves the tus endpoint under UploadsPath and signed downloads
// under BlobsPath.
func (s *Service) Handler() http.Handler { return http.NotFoundHandler() }

// OnComplete sets the function called once an upload's size and sha256 are
// verified and its bytes are stored under ref. If fn returns an error, the
// client's final PATCH fails with it and the bytes are deleted unless the
// blob existed before this upload (deduplicated).
func (s *Service) OnComplete(fn func(ctx context.Context, u Upload, ref Ref) error) {
	s.onComplete = fn
}

// OnReject sets the function called when a completed upload does not match
// its declared size or sha256; its bytes are already deleted.
func (s *Service) OnReject(fn func(ctx context.Context, u Upload, reason string)) {
	s.onReject = fn
}

// DownloadURL returns a URL that serves ref for ttl: HMAC-signed on this
// cluster for local blobs, presigned by S3 for s3 blobs.
func (s *Service) DownloadURL(ctx context.Context, ref Ref, filename string, ttl time.Duration) (string, error) {
	return "", errors.New("blob: not implemented yet")
}

// Delete removes a blob the ugc side no longer references. It is
// idempotent. For local blobs only the holder deletes (others return nil).
func (s *Service) Delete(ctx context.Context, ref Ref) error { return nil }

// Run collects garbage until ctx ends: expired uploads and their bytes.
func (s *Service) Run(ctx context.Context) error { <-ctx.Done(); return nil }

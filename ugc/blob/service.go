package blob

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	xslog "golang.org/x/exp/slog"

	"github.com/cassandranet/cassnet/consensus"
)

// Service is one node's blob service. See the package doc for the
// concurrency contract.
type Service struct {
	cfg    Config
	log    *slog.Logger
	local  *localStore
	s3     *s3Store // nil without Config.S3
	tus    *handler.UnroutedHandler
	locker *memorylocker.MemoryLocker
	proxy  *http.Client
	now    func() time.Time
	met    *metrics

	mu         sync.Mutex
	onComplete func(ctx context.Context, u Upload, ref Ref) error
	onReject   func(ctx context.Context, u Upload, reason string)
	keyLocks   map[string]*keyLock
	// gates serialise the tus requests of one upload on this node
	// before they reach tusd, and tell the collector which uploads are in
	// use: tusd answers a contended lock by interrupting the holder's
	// PATCH, which the collector must never cause, and which races inside
	// tusd v2.9.1 (httpContext.body is read by its cancel goroutine
	// without synchronisation).
	gates map[string]*gate
}

type gate struct {
	ch   chan struct{} // a mutex with a timed acquire
	refs int
}

// gateWait is how long a request waits for the previous request of the
// same upload before it goes to tusd anyway, whose lock then interrupts
// the old one: a client resuming after a cut waits for its dying PATCH to
// store what it received, but not for a half-open connection.
const gateWait = 3 * time.Second

type keyLock struct {
	mu   sync.Mutex
	refs int
}

// New checks cfg and returns a Service; it starts nothing (see Run).
func New(cfg Config) (*Service, error) {
	if len(cfg.SigningKey) < 32 && cfg.SigningKeys == nil {
		return nil, errShortKey
	}
	if !validName(cfg.Node) {
		return nil, fmt.Errorf("blob: node name %q is not an identifier", cfg.Node)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("blob: DataDir is empty")
	}
	if _, err := url.Parse(cfg.PublicURL); err != nil || cfg.PublicURL == "" {
		return nil, fmt.Errorf("blob: PublicURL %q: %v", cfg.PublicURL, err)
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if cfg.GCInterval <= 0 {
		cfg.GCInterval = time.Minute
	}
	s := &Service{cfg: cfg, log: cfg.Logger, now: time.Now, keyLocks: map[string]*keyLock{}, gates: map[string]*gate{}, met: newMetrics()}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.log = s.log.With("component", "ugc/blob")
	s.proxy = cfg.ProxyClient
	if s.proxy == nil {
		s.proxy = &http.Client{Timeout: 0, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	var err error
	if s.local, err = newLocalStore(cfg.DataDir); err != nil {
		return nil, err
	}
	if cfg.S3 != nil {
		if s.s3, err = newS3Store(cfg.S3); err != nil {
			return nil, err
		}
	}
	composer := handler.NewStoreComposer()
	ts := tusStore{s}
	composer.UseCore(ts)
	composer.UseTerminater(ts)
	s.locker = memorylocker.New()
	s.locker.UseIn(composer)
	s.tus, err = handler.NewUnroutedHandler(handler.Config{
		StoreComposer:        composer,
		BasePath:             UploadsPath,
		MaxSize:              cfg.MaxUploadBytes,
		DisableDownload:      true,
		DisableConcatenation: true,
		Logger:               xslog.New(xslog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, fmt.Errorf("blob: tusd: %w", err)
	}
	return s, nil
}

// keys returns the signing key first, then every key that verifies.
func (s *Service) keys() ([][]byte, error) {
	if s.cfg.SigningKeys == nil {
		return [][]byte{s.cfg.SigningKey}, nil
	}
	var keys [][]byte
	for _, k := range s.cfg.SigningKeys() {
		if len(k) >= 32 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errShortKey
	}
	return keys, nil
}

// verify checks a token against the current keys.
func (s *Service) verify(purpose, subject, tok string) error {
	keys, err := s.keys()
	if err != nil {
		return ErrBadToken
	}
	return verifyToken(keys, purpose, subject, tok, s.now())
}

func (s *Service) backend(store string) (backend, error) {
	switch store {
	case StoreLocal, "":
		return s.local, nil
	case StoreS3:
		if s.s3 == nil {
			return nil, ErrNoS3
		}
		return s.s3, nil
	}
	return nil, fmt.Errorf("%w: store %q", ErrInvalid, store)
}

// Create registers an expected upload and returns its tus URL: a tus upload
// resource already created with Upload-Length = u.Size, carrying a signed
// token that expires with the upload (u.ExpiresAt, default 24 h).
func (s *Service) Create(ctx context.Context, u Upload) (uploadURL string, err error) {
	now := s.now()
	if u.Store == "" {
		u.Store = StoreLocal
	}
	u.SHA256 = strings.ToLower(u.SHA256)
	if u.ExpiresAt.IsZero() {
		u.ExpiresAt = now.Add(DefaultUploadTTL)
	}
	if err := s.validate(u, now); err != nil {
		return "", err
	}
	b, err := s.backend(u.Store)
	if err != nil {
		return "", err
	}
	var rnd [16]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	u.ID = newUploadID(u.Store, s.cfg.Node, rnd)
	rec := &record{Upload: u, State: stateReceiving, Created: now}
	if err := b.begin(ctx, rec); err != nil {
		return "", err
	}
	s.log.Info("upload created", "upload", u.ID, "tenant", u.Tenant, "project", u.Project,
		"version", u.Version, "size", u.Size, "store", u.Store)
	keys, err := s.keys()
	if err != nil {
		return "", err
	}
	tok := signToken(keys[0], "upload", u.ID, u.ExpiresAt)
	return s.cfg.PublicURL + UploadsPath + u.ID + "?t=" + tok, nil
}

func (s *Service) validate(u Upload, now time.Time) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
	}
	if !validName(u.Tenant) || !validName(u.Project) {
		return bad("tenant and project must be identifiers")
	}
	for f, v := range map[string]string{"item": u.Item, "version": u.Version, "owner": u.Owner} {
		if v != "" && consensus.ValidateIdentifier(f, v) != nil {
			return bad("%s is not an identifier", f)
		}
	}
	if u.Size < 1 {
		return bad("size must be at least 1 byte")
	}
	if u.Size > s.cfg.MaxUploadBytes {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, u.Size, s.cfg.MaxUploadBytes)
	}
	if !validSHA256(u.SHA256) {
		return bad("sha256 must be 64 hex digits")
	}
	if len(u.ContentType) > 255 || len(u.Filename) > 255 {
		return bad("content type and filename are at most 255 bytes")
	}
	if !u.ExpiresAt.After(now) {
		return bad("expires_at is not in the future")
	}
	return nil
}

// Handler serves the tus endpoint under UploadsPath and signed downloads
// under BlobsPath; mount it on both prefixes without stripping them.
func (s *Service) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// OnComplete sets the function called once an upload's size and sha256 are
// verified and its bytes are stored under ref. If fn returns an error, the
// client's final PATCH fails with it (its text is the body: write it for
// the player; status 500, or the error's StatusCode() if it has one, e.g.
// 413 for a quota) and the bytes are deleted unless the blob existed
// before this upload (deduplicated).
func (s *Service) OnComplete(fn func(ctx context.Context, u Upload, ref Ref) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onComplete = fn
}

// OnReject sets the function called when an upload fails for good: its
// bytes did not match the declared size or sha256, it expired, or the
// client terminated it. Its bytes are already deleted.
//
// Both callbacks must be idempotent per upload (a Raft write that is a
// no-op the second time): for the s3 store, where uploads are shared by
// all nodes and tusd's lock is per process, a collector retrying a
// finalisation or an expiry may repeat a call another node made.
func (s *Service) OnReject(fn func(ctx context.Context, u Upload, reason string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onReject = fn
}

func (s *Service) callbacks() (func(context.Context, Upload, Ref) error, func(context.Context, Upload, string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.onComplete, s.onReject
}

func (s *Service) reject(ctx context.Context, u Upload, outcome, reason string) {
	s.countUpload(u.Store, outcome)
	s.log.Warn("upload rejected", "upload", u.ID, "tenant", u.Tenant, "project", u.Project,
		"version", u.Version, "reason", reason)
	if _, fn := s.callbacks(); fn != nil {
		fn(ctx, u, reason)
	}
}

// enter waits (at most gateWait) for the other requests of upload id on
// this node and marks this one in flight until the returned func.
func (s *Service) enter(ctx context.Context, id string) func() {
	s.mu.Lock()
	g := s.gates[id]
	if g == nil {
		g = &gate{ch: make(chan struct{}, 1)}
		s.gates[id] = g
	}
	g.refs++
	s.mu.Unlock()
	t := time.NewTimer(gateWait)
	acquired := false
	select {
	case g.ch <- struct{}{}:
		acquired = true
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	return func() {
		if acquired {
			<-g.ch
		}
		s.mu.Lock()
		if g.refs--; g.refs == 0 {
			delete(s.gates, id)
		}
		s.mu.Unlock()
	}
}

func (s *Service) inUse(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gates[id] != nil
}

// lockKey serialises completions of one blob key on this node.
func (s *Service) lockKey(key string) func() {
	s.mu.Lock()
	kl := s.keyLocks[key]
	if kl == nil {
		kl = &keyLock{}
		s.keyLocks[key] = kl
	}
	kl.refs++
	s.mu.Unlock()
	kl.mu.Lock()
	return func() {
		kl.mu.Unlock()
		s.mu.Lock()
		if kl.refs--; kl.refs == 0 {
			delete(s.keyLocks, key)
		}
		s.mu.Unlock()
	}
}

// DownloadURL returns a URL that serves ref for ttl (default 15 minutes,
// at most 7 days): HMAC-signed by this cluster for local blobs (served by
// this node, which proxies to the holder), presigned by S3 for s3 blobs.
func (s *Service) DownloadURL(ctx context.Context, ref Ref, filename string, ttl time.Duration) (string, error) {
	if err := validRef(ref); err != nil {
		return "", err
	}
	if ttl <= 0 {
		ttl = 15 * time.Minute
	}
	if ttl > 7*24*time.Hour {
		ttl = 7 * 24 * time.Hour
	}
	if len(filename) > 255 {
		return "", fmt.Errorf("%w: filename over 255 bytes", ErrInvalid)
	}
	switch ref.Store {
	case StoreS3:
		if s.s3 == nil {
			return "", ErrNoS3
		}
		return s.s3.presign(ctx, ref, filename, ttl)
	case StoreLocal, "":
		if !validName(ref.Holder) {
			return "", fmt.Errorf("%w: local ref without holder", ErrInvalid)
		}
		q := url.Values{}
		q.Set("h", ref.Holder)
		if filename != "" {
			q.Set("n", filename)
		}
		keys, err := s.keys()
		if err != nil {
			return "", err
		}
		q.Set("t", signToken(keys[0], "blob", blobSubject(ref.Key(), ref.Holder, filename), s.now().Add(ttl)))
		return s.cfg.PublicURL + BlobsPath + ref.Key() + "?" + q.Encode(), nil
	}
	return "", fmt.Errorf("%w: store %q", ErrInvalid, ref.Store)
}

func blobSubject(key, holder, filename string) string {
	return key + "\x00" + holder + "\x00" + filename
}

func validRef(ref Ref) error {
	if !validName(ref.Tenant) || !validName(ref.Project) || !validSHA256(ref.SHA256) {
		return fmt.Errorf("%w: ref %q", ErrInvalid, ref.Key())
	}
	return nil
}

// Delete removes a blob the ugc side no longer references. It is
// idempotent. An upload of the same bytes may complete at the same time
// and be handed the blob being deleted (deduplication): the ugc side must
// make OnComplete fail for a blob whose collection it has claimed, and the
// client then uploads again. On one node Delete and such a completion are
// serialised. A local blob is deleted only by its holder: on another node
// Delete returns ErrNotHolder and touches nothing (the ugc side calls it on
// the holder, e.g. when each node applies the reference count reaching
// zero and the holder is itself). An s3 blob may be deleted from any node.
func (s *Service) Delete(ctx context.Context, ref Ref) error {
	if err := validRef(ref); err != nil {
		return err
	}
	switch ref.Store {
	case StoreS3:
		if s.s3 == nil {
			return ErrNoS3
		}
		unlock := s.lockKey(StoreS3 + ":" + ref.Key())
		defer unlock()
		return s.s3.deleteBlob(ctx, ref)
	case StoreLocal, "":
		if ref.Holder != s.cfg.Node {
			return ErrNotHolder
		}
		// Not in the middle of a completion that is reusing this blob.
		unlock := s.lockKey(StoreLocal + ":" + ref.Key())
		defer unlock()
		return s.local.deleteBlob(ctx, ref)
	}
	return fmt.Errorf("%w: store %q", ErrInvalid, ref.Store)
}

// Package blob owns the bytes of user-generated content: resumable tus 1.0
// uploads, their verification (size and sha256), content-addressed storage
// (local files or an S3-compatible bucket), signed downloads and the garbage
// collection of abandoned uploads.
//
// It must not touch replicated state: items, versions, reference counts,
// quotas and authorisation of players belong to package state/ugc and the
// api. The ugc side tells this package what to expect (Create), learns the
// outcome (OnComplete, OnReject) and tells it when bytes are no longer
// referenced (Delete). The package never decides on its own that a stored blob
// is unused.
//
// Invariants:
//   - No object or file appears under a content key (tenant/project/sha256)
//     unless bytes of the declared size hashing to that sha256 were
//     received: s3 multipart uploads are opened on the key and completed
//     only after the digest matched (parts by their recorded ETags, the
//     tail by its recorded sha256); local files are linked there only
//     after it matched.
//   - An upload record's Offset and hash state describe the same durably
//     stored bytes, so HEAD never reports an offset whose bytes are not
//     there (tusd#376) and the digest needs no second read (tusd#81).
//   - A client never sees an upload complete (204 at the full offset)
//     before OnComplete returned nil for it.
//   - Bytes go only on a mismatch, an expiry, a termination, a failed
//     OnComplete for a blob this upload created, or Delete.
//
// Concurrency contract: a Service is safe for concurrent use by any number of
// goroutines once New has returned. OnComplete and OnReject must be set before
// Handler serves its first request; the callbacks are called from HTTP
// request goroutines (and from the Run loop when it retries a finalisation),
// possibly concurrently for different uploads, never concurrently for the
// same upload. Completions of the same blob key (tenant/project/sha256) on one
// node are serialised, so OnComplete for a deduplicated blob never races the
// deletion of the same bytes by a failed sibling. Run owns the only
// background goroutine and returns when its context is cancelled.
package blob

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Store names.
const (
	StoreLocal = "local"
	StoreS3    = "s3"
)

// Paths under which Handler serves. The api mounts Handler for both
// prefixes, unchanged (no http.StripPrefix):
//
//	HEAD/PATCH/DELETE/OPTIONS UploadsPath + "{upload id}?t={token}"  tus 1.0
//	GET/HEAD                  BlobsPath + "{tenant}/{project}/{sha256}?t={token}"
const (
	UploadsPath = "/v1/ugc/uploads/"
	BlobsPath   = "/v1/ugc/blobs/"
)

// DefaultUploadTTL is how long an upload may stay incomplete before Run
// deletes it and its bytes.
const DefaultUploadTTL = 24 * time.Hour

// DefaultMaxUploadBytes is the largest upload accepted when Config leaves
// MaxUploadBytes zero (the default maximum file size).
const DefaultMaxUploadBytes = 512 << 20

// Upload describes one expected upload: the ugc side fills it from the
// version it is creating and passes it to Create.
type Upload struct {
	ID          string // chosen by Create when empty
	Tenant      string
	Project     string
	Item        string
	Version     string
	Owner       string
	Size        int64
	SHA256      string // lowercase hex, 64 characters: what the bytes must hash to
	ContentType string
	Filename    string
	ExpiresAt   time.Time // zero: now + DefaultUploadTTL
	Store       string    // StoreLocal (default) or StoreS3
}

// Ref names a stored, verified blob. Blobs are content addressed: the key is
// Tenant/Project/SHA256, so two versions with the same bytes in a project
// share one blob.
type Ref struct {
	Tenant, Project, SHA256 string
	Store                   string // StoreLocal or StoreS3
	Holder                  string // for StoreLocal: the node name whose data dir holds the file
	Size                    int64
}

// Key is the blob's content address, "tenant/project/sha256".
func (r Ref) Key() string { return r.Tenant + "/" + r.Project + "/" + r.SHA256 }

// Config configures a Service.
type Config struct {
	// Node is this node's name (as in membership); it becomes Ref.Holder
	// for local blobs received here.
	Node string
	// DataDir is the node's data dir; the package keeps its files under
	// DataDir/ugc (uploads/ and blobs/).
	DataDir string
	// SigningKey is the per-cluster secret that signs upload and download
	// URLs (HMAC-SHA256), at least 32 bytes. Every node must hold the
	// same key, or URLs minted on one node fail on another. Where it
	// comes from: the node derives it with DeriveSigningKey from the
	// ugc domain's replicated URL secret (random, proposed once by the
	// first node that needs it, "if none" so the first proposal wins), so
	// every member holds it without configuration; it never travels in a
	// URL or a log.
	SigningKey []byte
	// SigningKeys, optional, replaces SigningKey to survive rotation: it
	// is called per request and returns the key to sign with first, then
	// older keys that still verify (e.g. DeriveSigningKey of the active
	// session key, then of the retired ones not yet pruned), so an upload
	// URL minted before a rotation keeps working until it expires.
	SigningKeys func() [][]byte
	// S3, when set, enables the s3 store.
	S3 *S3Config
	// PublicURL is the base URL clients reach this node at, e.g.
	// "https://node-1.example:8443"; upload and download URLs start with it.
	PublicURL string
	// Resolve gives the base URL of another node by name, for proxying
	// requests for local blobs and local uploads held there. Nil: no
	// proxying (404 for blobs held elsewhere).
	Resolve func(node string) (baseURL string, ok bool)
	// Authorize, optional, authenticates a tus request that carries no
	// URL token (the client used its own credential instead). Nil: such
	// requests are refused with 401.
	Authorize func(r *http.Request, u Upload) error
	Logger    *slog.Logger
	// MaxUploadBytes bounds Upload.Size; zero means DefaultMaxUploadBytes.
	MaxUploadBytes int64
	// ProxyClient is used to proxy to other nodes; nil means a client
	// with sane timeouts (set it to carry the cluster's TLS roots).
	ProxyClient *http.Client
	// GCInterval is how often Run collects; zero means one minute.
	GCInterval time.Duration
	// CollectS3, optional, says whether this node collects the shared s3
	// upload records in this pass (wire it to "this node is the Raft
	// leader" so one node does it). Nil: every node collects, which is
	// safe but wasteful.
	CollectS3 func() bool
}

// S3Config locates an S3-compatible bucket.
type S3Config struct {
	Endpoint string // e.g. "https://s3.eu-west-1.amazonaws.com" or "http://127.0.0.1:7070"
	Bucket   string
	Prefix   string // key prefix inside the bucket, e.g. "cassnet/"
	Region   string // "us-east-1" when empty
	// CredentialsFile is an AWS shared credentials file whose [default]
	// section holds aws_access_key_id and aws_secret_access_key (and
	// optionally aws_session_token). Empty: AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY from the node's environment. Never from Raft.
	// New fails when neither yields a key.
	CredentialsFile string
	PathStyle       bool // path-style addressing (MinIO, versitygw)
}

// Errors.
var (
	ErrNotFound  = errors.New("blob: not found")
	ErrExpired   = errors.New("blob: expired")
	ErrBadToken  = errors.New("blob: bad or expired token")
	ErrNoS3      = errors.New("blob: s3 store not configured")
	ErrInvalid   = errors.New("blob: invalid upload")
	ErrNotHolder = errors.New("blob: blob held by another node")
	ErrTooLarge  = errors.New("blob: upload too large")
)

// Package ugc owns the replicated half of user-generated content: each
// project's UGC settings (store, quotas, allowed content types, the
// moderation rule), items (title, description, tags, metadata,
// visibility, owner, moderation state, counters), their versions (pending
// uploads with an expiry, published, rejected or expired), reports, and
// the reference counts of the blobs versions point at, so that no node
// deletes bytes another version still uses. It also keeps, derived from
// that state on every node, the search index the item query reads
// (numbered posting lists in persistent tables, see store.go and query.go).
//
// It must not touch bytes, HTTP or the blob stores (package ugc/blob
// does), nor decide who may call what (package api does).
package ugc

import (
	"maps"
	"slices"
	"time"
)

// Visibility.
const (
	VisibilityPublic   = "public"
	VisibilityUnlisted = "unlisted"
	VisibilityPrivate  = "private"
)

// Moderation states of an item.
const (
	StateDraft    = "draft"
	StatePending  = "pending"
	StateApproved = "approved"
	StateRejected = "rejected"
	StateHidden   = "hidden"
)

// Version states.
const (
	VersionPending   = "pending"
	VersionPublished = "published"
	VersionRejected  = "rejected"
	VersionExpired   = "expired"
)

// Moderation rules and stores.
const (
	ModerationAuto     = "auto-approve"
	ModerationApproval = "approval-required"
	StoreLocal         = "local"
	StoreS3            = "s3"
	// OwnerStudio owns items made with a studio key or an operator token.
	OwnerStudio = "studio"
)

// Defaults and hard limits.
const (
	DefaultMaxFileSize     = 512 << 20
	DefaultVersionsPerItem = 5
	DefaultItemsPerPlayer  = 1000
	MaxVersionsPerItem     = 100
	MaxTags                = 16
	MaxTagLen              = 32
	MaxTitleLen            = 200
	MaxDescriptionLen      = 8 << 10
	MaxMetadataEntries     = 32
	MaxMetadataKeyLen      = 64
	MaxMetadataBytes       = 4 << 10
	MaxFilenameLen         = 255
	MaxContentTypeLen      = 127
	MaxContentTypes        = 64
	MaxReasonLen           = 1024
	// MaxReportsKept bounds the reports kept per item; the counter goes on.
	MaxReportsKept = 50
	// MaxItemsPerProject bounds a project's replicated items.
	MaxItemsPerProject = 1_000_000
	// MaxPendingPerItem bounds the pending uploads of one item.
	MaxPendingPerItem = 4
	// MaxUploadTTL bounds how long a pending upload may stay open.
	MaxUploadTTL = 7 * 24 * time.Hour
	// DefaultUploadTTL is how long a pending upload stays open.
	DefaultUploadTTL = 24 * time.Hour
	// keptUnpublished is how many rejected or expired versions an item
	// keeps beside its published ones, for their reasons.
	keptUnpublished = 8
)

// Settings are a project's UGC settings. Zero limits mean "no limit"
// except MaxFileSize, VersionsPerItem and MaxItemsPerPlayer, which have
// defaults (see Effective).
type Settings struct {
	Tenant              string    `json:"tenant"`
	Project             string    `json:"project"`
	Store               string    `json:"store"`
	MaxTotalBytes       int64     `json:"max_total_bytes"`
	MaxBytesPerPlayer   int64     `json:"max_bytes_per_player"`
	MaxItemsPerPlayer   uint32    `json:"max_items_per_player"`
	MaxFileSize         int64     `json:"max_file_size"`
	VersionsPerItem     uint32    `json:"versions_per_item"`
	AllowedContentTypes []string  `json:"allowed_content_types"`
	Moderation          string    `json:"moderation"`
	UploadTTLSeconds    uint32    `json:"upload_ttl_seconds"`
	UpdatedAt           time.Time `json:"updated_at"`
}

// UploadTTL is how long an upload may stay incomplete.
func (s Settings) UploadTTL() time.Duration {
	return time.Duration(s.Effective().UploadTTLSeconds) * time.Second
}

// Effective fills in the defaults.
func (s Settings) Effective() Settings {
	if s.Store == "" {
		s.Store = StoreLocal
	}
	if s.MaxFileSize == 0 {
		s.MaxFileSize = DefaultMaxFileSize
	}
	if s.VersionsPerItem == 0 {
		s.VersionsPerItem = DefaultVersionsPerItem
	}
	if s.MaxItemsPerPlayer == 0 {
		s.MaxItemsPerPlayer = DefaultItemsPerPlayer
	}
	if s.Moderation == "" {
		s.Moderation = ModerationAuto
	}
	if s.UploadTTLSeconds == 0 {
		s.UploadTTLSeconds = uint32(DefaultUploadTTL / time.Second)
	}
	if s.AllowedContentTypes == nil {
		s.AllowedContentTypes = []string{}
	}
	return s
}

// AllowsContentType reports whether ct may be uploaded: any when the list
// is empty; otherwise an exact match or a "type/*" entry.
func (s Settings) AllowsContentType(ct string) bool {
	if len(s.AllowedContentTypes) == 0 {
		return true
	}
	for _, a := range s.AllowedContentTypes {
		if a == ct {
			return true
		}
		if n := len(a); n > 2 && a[n-2:] == "/*" && len(ct) > n-1 && ct[:n-1] == a[:n-1] {
			return true
		}
	}
	return false
}

// Item is the replicated record of one piece of content.
type Item struct {
	ID          string            `json:"id"`
	Tenant      string            `json:"tenant"`
	Project     string            `json:"project"`
	Owner       string            `json:"owner"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Tags        []string          `json:"tags"`
	Metadata    map[string]string `json:"metadata"`
	Visibility  string            `json:"visibility"`
	State       string            `json:"state"`
	Reason      string            `json:"reason,omitempty"`
	LiveVersion string            `json:"live_version,omitempty"`
	Downloads   uint64            `json:"downloads"`
	Reports     uint64            `json:"reports"`
	// NextSeq numbers the item's versions in creation order.
	NextSeq   uint64    `json:"next_seq"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (it *Item) clone() *Item {
	c := *it
	c.Tags, c.Metadata = slices.Clone(it.Tags), maps.Clone(it.Metadata)
	return &c
}

// Version is one upload of an item.
type Version struct {
	ID          string     `json:"id"`
	Tenant      string     `json:"tenant"`
	Project     string     `json:"project"`
	Item        string     `json:"item"`
	Seq         uint64     `json:"seq"`
	Owner       string     `json:"owner"`
	Filename    string     `json:"filename"`
	Size        int64      `json:"size"`
	SHA256      string     `json:"sha256"`
	ContentType string     `json:"content_type"`
	State       string     `json:"state"`
	Reason      string     `json:"reason,omitempty"`
	Store       string     `json:"store"`
	Holder      string     `json:"holder,omitempty"`
	ExpiresAt   time.Time  `json:"expires_at"`
	CreatedAt   time.Time  `json:"created_at"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
}

// counts reports whether v's bytes count against the quotas.
func (v *Version) counts() bool { return v.State == VersionPending || v.State == VersionPublished }

// Blob is the replicated reference count of one stored blob.
type Blob struct {
	Tenant  string `json:"tenant"`
	Project string `json:"project"`
	SHA256  string `json:"sha256"`
	Store   string `json:"store"`
	Holder  string `json:"holder"`
	Size    int64  `json:"size"`
	Refs    uint32 `json:"refs"`
	// Collecting is set once the holder has claimed the unreferenced blob
	// for deletion: no version may reference it again until it is gone.
	Collecting bool      `json:"collecting,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Report is one report against an item.
type Report struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Project   string    `json:"project"`
	Item      string    `json:"item"`
	Reporter  string    `json:"reporter"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
}

// Usage is what a project, or one owner in it, holds: bytes of pending
// and published versions, and items.
type Usage struct {
	Bytes int64 `json:"bytes"`
	Items int64 `json:"items"`
}

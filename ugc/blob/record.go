package blob

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"time"
)

// Upload record states.
const (
	stateReceiving = "receiving" // bytes still arriving
	stateFull      = "full"      // all bytes here; finalisation pending or failed (Run retries)
	stateDone      = "done"      // verified and handed to OnComplete; kept until expiry so HEAD answers
)

// record is the durable state of one upload. Offset and Hash always
// describe the same bytes: Hash is the marshalled sha256 state after the
// first Offset bytes, which are durably stored. That is what makes an
// interrupted upload resume at an offset whose bytes are really there
// (tusd#376) and lets the digest be checked at completion without reading
// the blob again (tusd#81).
type record struct {
	Upload  Upload    `json:"upload"`
	Offset  int64     `json:"offset"`
	Hash    []byte    `json:"hash"`
	State   string    `json:"state"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"` // wall clock of the last save

	// s3 only
	MultipartID string   `json:"multipart_id,omitempty"`
	PartSize    int64    `json:"part_size,omitempty"`
	Parts       []s3Part `json:"parts,omitempty"`
	Tail        int64    `json:"tail,omitempty"`        // bytes in the tail object (a part not yet full)
	TailSHA256  string   `json:"tail_sha256,omitempty"` // of the tail object, checked when it is read back
}

type s3Part struct {
	Number int    `json:"n"`
	ETag   string `json:"etag"`
	Size   int64  `json:"size"`
}

func (r *record) hasher() (hash.Hash, error) {
	h := sha256.New()
	if len(r.Hash) == 0 {
		return h, nil
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(r.Hash); err != nil {
		return nil, fmt.Errorf("blob: upload %s: hash state: %w", r.Upload.ID, err)
	}
	return h, nil
}

func (r *record) setHash(h hash.Hash) error {
	b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return err
	}
	r.Hash = b
	return nil
}

// digest is the hex sha256 of the Offset bytes received.
func (r *record) digest() (string, error) {
	h, err := r.hasher()
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (r *record) ref(node string) Ref {
	ref := Ref{Tenant: r.Upload.Tenant, Project: r.Upload.Project, SHA256: r.Upload.SHA256,
		Store: r.Upload.Store, Size: r.Upload.Size}
	if ref.Store == StoreLocal {
		ref.Holder = node
	}
	return ref
}

// backend is one store: it keeps upload records and staged bytes, and the
// verified blobs under their content keys. Calls for one upload id are
// serialised by the caller (the tusd lock); calls for different uploads run
// concurrently.
type backend interface {
	// begin stages a new upload and saves its record.
	begin(ctx context.Context, rec *record) error
	load(ctx context.Context, id string) (*record, error)
	save(ctx context.Context, rec *record) error
	// write appends src at rec.Offset, advancing rec.Offset and rec.Hash
	// over the bytes it stored durably and saving the record, even when
	// src fails halfway. It returns how many bytes it stored.
	write(ctx context.Context, rec *record, src io.Reader) (int64, error)
	// finalize makes the staged bytes the blob under the content key of
	// rec.Upload.SHA256, once the caller has verified the digest; created is
	// false when the blob already existed (deduplicated) and the staged
	// bytes were dropped.
	finalize(ctx context.Context, rec *record) (created bool, err error)
	// discard deletes the staged bytes (not the record).
	discard(ctx context.Context, rec *record) error
	// forget deletes the record.
	forget(ctx context.Context, id string) error
	// ids lists the upload records this node is responsible for collecting.
	ids(ctx context.Context) ([]string, error)
	deleteBlob(ctx context.Context, ref Ref) error
	exists(ctx context.Context, ref Ref) (bool, error)
}

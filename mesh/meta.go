package mesh

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// ErrMetaTooLarge is returned when an encoded Meta would not fit in
// memberlist's node metadata (memberlist.MetaMaxSize, 512 bytes).
var ErrMetaTooLarge = errors.New("mesh: encoded meta exceeds memberlist.MetaMaxSize")

// EncodeMeta encodes m as compact JSON using Meta's short field tags.
// It returns an error wrapping ErrMetaTooLarge if the result is longer than
// memberlist.MetaMaxSize: memberlist panics on oversize metadata, so every
// value handed to memberlist goes through here first.
func EncodeMeta(m Meta) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("mesh: encode meta: %w", err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("%w: %d > %d bytes", ErrMetaTooLarge, len(b), memberlist.MetaMaxSize)
	}
	return b, nil
}

// DecodeMeta decodes metadata produced by EncodeMeta. Unknown fields are
// ignored so that newer nodes can add fields without breaking older ones.
// It never panics on arbitrary input.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, errors.New("mesh: decode meta: empty")
	}
	if len(b) > memberlist.MetaMaxSize {
		return m, fmt.Errorf("%w: %d > %d bytes", ErrMetaTooLarge, len(b), memberlist.MetaMaxSize)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("mesh: decode meta: %w", err)
	}
	return m, nil
}

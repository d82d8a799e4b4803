// Package wiretest holds the generated protobuf codecs (vtprotobuf,
// *_vtproto.pb.go) to proto.Unmarshal in fuzz targets: it explains the
// inputs only the generated decoder accepts, and strips what it keeps of
// them. It is for tests only and owns no state.
package wiretest

import (
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Lenient reports whether proto.Unmarshal's refusal err of b, an encoded
// md, is one the generated decoder does not make by design: invalid UTF-8
// (the generated decoder validates none; the callers' checks validate
// every string they keep), or wire data that is malformed where the
// generated decoder skips it (unknown fields: mismatched groups, field
// numbers above 2^29-1, varints longer than 64 bits).
func Lenient(err error, b []byte, md protoreflect.MessageDescriptor) bool {
	return strings.Contains(err.Error(), "invalid UTF-8") || !WellFormed(b, md, 0)
}

// WellFormed reports whether b walks as an encoded md with protowire, into
// every message-typed field.
func WellFormed(b []byte, md protoreflect.MessageDescriptor, depth int) bool {
	if depth > 64 {
		return false
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return false
		}
		b = b[n:]
		if fd := md.Fields().ByNumber(num); fd != nil && fd.Message() != nil && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 || !WellFormed(v, fd.Message(), depth+1) {
				return false
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return false
		}
		b = b[m:]
	}
	return true
}

// DiscardUnknown removes the unknown fields of m and of its messages.
func DiscardUnknown(m protoreflect.Message) {
	m.SetUnknown(nil)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				DiscardUnknown(v.List().Get(i).Message())
			}
		case fd.Message() != nil && !fd.IsMap():
			DiscardUnknown(v.Message())
		}
		return true
	})
}

// Equal reports whether got, decoded by the generated decoder, is want,
// decoded by proto.Unmarshal from the same bytes. Both keep unknown
// fields, but proto.Unmarshal re-encodes their tags minimally and the
// generated decoder keeps them as they came: got is compared through one
// more proto.Unmarshal, which normalises them the same way.
func Equal(got, want proto.Message) bool {
	if proto.Equal(got, want) {
		return true
	}
	b, err := proto.Marshal(got)
	if err != nil {
		return false
	}
	again := want.ProtoReflect().New().Interface()
	return proto.Unmarshal(b, again) == nil && proto.Equal(again, want)
}

package mesh

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

// worstMeta is the largest Meta a real node would gossip: a 63-character
// DNS label as name, a UUID, a long version and four IPv6 endpoints with
// five-digit ports.
func worstMeta() Meta {
	v6 := "[fd12:3456:789a:bcde:f012:3456:789a:bcde]:65535"
	return Meta{
		Name:     strings.Repeat("n", 63),
		ID:       "123e4567-e89b-12d3-a456-426614174000",
		Role:     RoleServer,
		Version:  "v10.20.300-rc.12+g0123456789ab.dirty",
		RaftAddr: v6,
		HTTPAddr: v6,
		P2PAddr:  v6,
		GRPCAddr: v6,
		// An RSA-derived peer ID is longer than an Ed25519 one (52 chars).
		PeerID: "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N" + strings.Repeat("x", 8),
		Load:   Load{CPU: 100, Memory: 100},
	}
}

func TestEncodeMetaWorstCaseFits(t *testing.T) {
	m := worstMeta()
	b, err := EncodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("worst-case meta: %d of %d bytes", len(b), memberlist.MetaMaxSize)
	if len(b) > memberlist.MetaMaxSize {
		t.Fatalf("encoded %d bytes", len(b))
	}
	got, err := DecodeMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != m {
		t.Fatalf("round trip: got %+v, want %+v", got, m)
	}
}

func TestEncodeMetaShortTags(t *testing.T) {
	b, err := EncodeMeta(Meta{Name: "a", ID: "b", Role: "server", RaftAddr: "h:1"})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"n":"a","i":"b","r":"server","v":"","ra":"h:1","h":"","p":"","g":""}`
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}

func TestEncodeMetaRejectsOversize(t *testing.T) {
	tests := []struct {
		name string
		meta Meta
	}{
		{"long name", Meta{Name: strings.Repeat("n", memberlist.MetaMaxSize)}},
		{"long addresses", func() Meta {
			m := worstMeta()
			m.Version = strings.Repeat("v", 200)
			return m
		}()},
		// Characters JSON escapes grow six-fold.
		{"escaped", Meta{Name: strings.Repeat("\x01", 100)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := EncodeMeta(tt.meta); !errors.Is(err, ErrMetaTooLarge) {
				t.Fatalf("err = %v, want ErrMetaTooLarge", err)
			}
		})
	}
}

func TestDecodeMeta(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Meta
		wantErr bool
	}{
		{name: "empty", in: "", wantErr: true},
		{name: "not json", in: "hello", wantErr: true},
		{name: "wrong type", in: `{"n":1}`, wantErr: true},
		{name: "unknown fields ignored", in: `{"n":"a","zz":[1,2]}`, want: Meta{Name: "a"}},
		{name: "oversize", in: `{"n":"` + strings.Repeat("a", 600) + `"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeMeta([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzDecodeMeta(f *testing.F) {
	b, _ := EncodeMeta(worstMeta())
	f.Add(b)
	f.Add([]byte(`{"n":"a","i":"b"}`))
	f.Add([]byte(`{"n":"\ud800"}`))
	f.Add([]byte(`null`))
	f.Add([]byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		enc, err := EncodeMeta(m)
		if err != nil {
			return // e.g. invalid UTF-8 re-encoded as U+FFFD can grow past the limit
		}
		again, err := DecodeMeta(enc)
		if err != nil || again != m {
			t.Fatalf("re-decode: %+v, %v; want %+v", again, err, m)
		}
	})
}

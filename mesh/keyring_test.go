package mesh

import (
	"bytes"
	"testing"

	"github.com/hashicorp/memberlist"
)

func TestGossipKey(t *testing.T) {
	a, b := GossipKey("token-a"), GossipKey("token-a")
	if len(a) != GossipKeySize {
		t.Fatalf("len = %d", len(a))
	}
	if !bytes.Equal(a, b) {
		t.Fatal("not deterministic")
	}
	if bytes.Equal(a, GossipKey("token-b")) {
		t.Fatal("different tokens, same key")
	}
	if bytes.Contains(a, []byte("token-a")) {
		t.Fatal("key contains the token")
	}
	if err := memberlist.ValidateKey(a); err != nil {
		t.Fatal(err)
	}
}

func TestNewKeyring(t *testing.T) {
	if _, err := newKeyring(""); err == nil {
		t.Fatal("empty token accepted")
	}
	kr, err := newKeyring("tok")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kr.GetPrimaryKey(), GossipKey("tok")) || len(kr.GetKeys()) != 1 {
		t.Fatal("keyring does not hold exactly the derived key")
	}
}

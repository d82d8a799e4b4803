package api

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/session"
)

// publicKey is the verifier's KeyLookup: any key in the local state,
// active or retired and not yet pruned.
func (s *Server) publicKey(kid string) (ed25519.PublicKey, bool) {
	sk, ok := s.state.Identity.SigningKey(kid)
	if !ok {
		return nil, false
	}
	k, err := s.keyring.Key(sk.KID, sk.PrivateKey)
	if err != nil {
		return nil, false
	}
	return k.Public, true
}

// signingKey returns the active signing key. If the local state has none,
// it reads at default consistency (this node may simply be behind), and if
// the cluster has none either it creates the first one through Raft. Two
// nodes racing to create it is harmless: RotateSigningKey with if_none
// lets only the first win, and the loser reads the winner's key.
func (s *Server) signingKey(ctx context.Context, p Principal) (session.Key, error) {
	if sk, ok := s.state.Identity.ActiveSigningKey(); ok {
		return s.keyring.Key(sk.KID, sk.PrivateKey)
	}
	if _, err := s.store.Read(ctx, consensus.Default); err != nil {
		return session.Key{}, err
	}
	if sk, ok := s.state.Identity.ActiveSigningKey(); ok {
		return s.keyring.Key(sk.KID, sk.PrivateKey)
	}
	kid, seed, err := session.NewKey()
	if err != nil {
		return session.Key{}, err
	}
	_, err = s.apply(ctx, p, &cassnetv1.Command{Op: &cassnetv1.Command_RotateSigningKey{
		RotateSigningKey: &cassnetv1.RotateSigningKey{Kid: kid, PrivateKey: seed, IfNone: true},
	}})
	if err != nil && !errors.Is(err, consensus.ErrConflict) {
		return session.Key{}, err
	}
	if err != nil { // lost the race: wait until the winner's key is here
		if _, err := s.store.Read(ctx, consensus.Default); err != nil {
			return session.Key{}, err
		}
	}
	sk, ok := s.state.Identity.ActiveSigningKey()
	if !ok {
		return session.Key{}, fmt.Errorf("api: no signing key after creating one")
	}
	return s.keyring.Key(sk.KID, sk.PrivateKey)
}

// handleJWKS publishes every public key that still verifies, active and
// retired, so third parties can verify session tokens offline.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request, _ Principal) {
	keys := s.state.Identity.SigningKeys()
	set := session.JWKSet{Keys: make([]session.JWK, 0, len(keys))}
	for _, sk := range keys {
		k, err := s.keyring.Key(sk.KID, sk.PrivateKey)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		set.Keys = append(set.Keys, session.PublicJWK(k.KID, k.Public))
	}
	// Short: after a rotation, offline verifiers refetch on an unknown kid.
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSON(w, http.StatusOK, set)
}

// handleRotateSigningKey makes a fresh key the signing key. The previous
// one keeps verifying until every token it signed has expired.
func (s *Server) handleRotateSigningKey(w http.ResponseWriter, r *http.Request, p Principal) {
	kid, seed, err := session.NewKey()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_RotateSigningKey{
		RotateSigningKey: &cassnetv1.RotateSigningKey{Kid: kid, PrivateKey: seed},
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sk, ok := s.state.Identity.SigningKey(kid)
	if !ok {
		s.fail(w, r, notFound("signing key %q no longer exists", kid))
		return
	}
	setIndexHeader(w, idx)
	writeJSON(w, http.StatusOK, struct {
		KID       string    `json:"kid"`
		CreatedAt time.Time `json:"created_at"`
	}{sk.KID, sk.CreatedAt})
}

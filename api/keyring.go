package api

import (
	"net/http"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/cluster"
)

// keyringView lists the replicated gossip keyring by key ID; key material
// is never returned.
type keyringView struct {
	Primary string   `json:"primary"`
	Keys    []string `json:"keys"`
}

func keyringOf(st *cluster.Store) keyringView {
	v := keyringView{Keys: []string{}}
	for i, k := range st.GossipKeys() {
		id := cluster.GossipKeyID(k)
		if i == 0 {
			v.Primary = id
		}
		v.Keys = append(v.Keys, id)
	}
	return v
}

func (s *Server) handleGetKeyring(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	writeJSON(w, http.StatusOK, keyringOf(s.state.Cluster))
}

// keyringRequest is the body of POST /v1/cluster/keyring.
type keyringRequest struct {
	// Action is install, use or remove.
	Action string `json:"action"`
	// Key is the AES key, standard base64 (16, 24 or 32 bytes).
	Key []byte `json:"key"`
}

// handleUpdateKeyring replicates one gossip key rotation step; every node
// applies it to its memberlist keyring (node/keyring.go).
func (s *Server) handleUpdateKeyring(w http.ResponseWriter, r *http.Request, p Principal) {
	var req keyringRequest
	if err := decodeJSON(w, r, s.maxBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	switch req.Action {
	case cluster.KeyringInstall, cluster.KeyringUse, cluster.KeyringRemove:
	default:
		s.fail(w, r, badRequest("action: must be install, use or remove"))
		return
	}
	if n := len(req.Key); n != 16 && n != 24 && n != 32 {
		s.fail(w, r, badRequest("key: must be 16, 24 or 32 bytes, base64-encoded"))
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_UpdateGossipKeyring{
		UpdateGossipKeyring: &cassnetv1.UpdateGossipKeyring{Action: req.Action, Key: req.Key},
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	writeJSON(w, http.StatusOK, keyringOf(s.state.Cluster))
}

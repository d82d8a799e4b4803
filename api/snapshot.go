package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/mesh"
)

// MaxSnapshotBytes bounds a snapshot archive uploaded for a restore. The
// archive is held in memory while it is checked and installed.
const MaxSnapshotBytes = 256 << 20

// forwardedHeader marks a restore a follower passed on to the leader, so
// that it is forwarded at most once.
const forwardedHeader = "X-Cass-Forwarded"

// handleSaveSnapshot streams a snapshot archive of the whole replicated
// state (cassnet snapshot save). Every node answers: the archive is
// taken after a consistent read, so it holds every write acknowledged
// before the request, wherever it lands.
func (s *Server) handleSaveSnapshot(w http.ResponseWriter, r *http.Request, _ Principal) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	// Encode into memory first: an error half-way must still be a JSON
	// error, not a truncated 200.
	var buf bytes.Buffer
	meta, err := s.store.SaveSnapshot(ctx, &buf, consensus.ArchiveMeta{ClusterID: s.clusterID, Node: s.node})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Content-Disposition", `attachment; filename="cassnet-`+strconv.FormatUint(meta.Index, 10)+`.snap"`)
	setIndexHeader(w, meta.Index)
	w.WriteHeader(http.StatusOK)
	_, _ = buf.WriteTo(w)
}

// restoreAnswer is the body of a successful restore.
type restoreAnswer struct {
	Restored     bool   `json:"restored"`
	ClusterID    string `json:"cluster_id"`
	Index        uint64 `json:"index"`
	StateHash    string `json:"state_hash"`
	StateVersion uint32 `json:"state_version"`
}

// handleRestoreSnapshot replaces the cluster's state with an uploaded
// archive (cassnet snapshot restore), through the leader: a follower
// passes the request on to it. ?force restores another cluster's archive.
func (s *Server) handleRestoreSnapshot(w http.ResponseWriter, r *http.Request, p Principal) {
	if r.ContentLength > MaxSnapshotBytes {
		s.fail(w, r, tooLarge(MaxSnapshotBytes))
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxSnapshotBytes))
	if err != nil {
		var me *http.MaxBytesError
		if errors.As(err, &me) {
			s.fail(w, r, tooLarge(MaxSnapshotBytes))
			return
		}
		s.fail(w, r, badRequest("read the snapshot: %v", err))
		return
	}
	a, err := consensus.ParseArchive(data)
	if err != nil {
		s.fail(w, r, badRequest("%v", err))
		return
	}
	_, force := r.URL.Query()["force"]
	if !s.store.IsLeader() && r.Header.Get(forwardedHeader) == "" && s.peers != nil {
		s.forwardRestore(w, r, data)
		return
	}
	err = s.store.RestoreSnapshot(r.Context(), a, consensus.RestoreOptions{ClusterID: s.clusterID, Force: force, Actor: p.Actor()})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "snapshot restored", "actor", p.Actor(), "cluster_id", a.Meta.ClusterID,
		"index", a.Meta.Index, "force", force)
	writeJSON(w, http.StatusOK, restoreAnswer{true, a.Meta.ClusterID, a.Meta.Index, a.Meta.StateHash, a.Meta.StateVersion})
}

// forwardRestore sends the restore to the leader's REST API with the
// caller's credential, and relays its answer.
func (s *Server) forwardRestore(w http.ResponseWriter, r *http.Request, data []byte) {
	leader := s.store.RaftInfo().LeaderID
	addr := ""
	for _, m := range s.members.Members() {
		if m.ID == leader && m.Status == mesh.StatusAlive {
			addr = m.HTTPAddr
		}
	}
	if addr == "" {
		s.fail(w, r, consensus.NewError(consensus.ErrNoLeader, "no leader to restore through"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.scheme+"://"+addr+r.URL.RequestURI(), bytes.NewReader(data))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cred, _ := credential(r)
	req.Header.Set("Authorization", "Bearer "+cred)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(forwardedHeader, s.node)
	resp, err := s.peers.Do(req)
	if err != nil {
		// It may have reached the leader.
		s.fail(w, r, consensus.NewError(consensus.ErrIndeterminate, "forward the restore to the leader: %v", err))
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
}

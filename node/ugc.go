package node

import (
	"context"
	"crypto/rand"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/ugc"
	"github.com/cassandranet/cassnet/ugc/blob"
)

// ugcBlobs is the node's api.UGCBlobs: the blob service once runUGC has
// built it (it needs the replicated URL signing secret, so it cannot be
// built before the node has joined), ErrUGCUnavailable until then.
type ugcBlobs struct {
	svc atomic.Pointer[blob.Service]
}

var _ api.UGCBlobs = (*ugcBlobs)(nil)

func (u *ugcBlobs) Create(ctx context.Context, up blob.Upload) (string, error) {
	if s := u.svc.Load(); s != nil {
		return s.Create(ctx, up)
	}
	return "", api.ErrUGCUnavailable
}

func (u *ugcBlobs) DownloadURL(ctx context.Context, ref blob.Ref, name string, ttl time.Duration) (string, error) {
	if s := u.svc.Load(); s != nil {
		return s.DownloadURL(ctx, ref, name, ttl)
	}
	return "", api.ErrUGCUnavailable
}

func (u *ugcBlobs) Delete(ctx context.Context, ref blob.Ref) error {
	if s := u.svc.Load(); s != nil {
		return s.Delete(ctx, ref)
	}
	return api.ErrUGCUnavailable
}

func (u *ugcBlobs) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := u.svc.Load()
		if s == nil {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "the UGC blob service is starting", http.StatusServiceUnavailable)
			return
		}
		s.Handler().ServeHTTP(w, r)
	})
}

// runUGC waits until the node is ready, makes sure the cluster has a UGC
// URL signing secret (any node proposes one; the first wins), builds the
// blob service with its callbacks wired to the API, and runs its
// collection loop until ctx ends.
func (n *Node) runUGC(ctx context.Context) {
	wait := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	for !n.store.Ready() {
		if !wait(100 * time.Millisecond) {
			return
		}
	}
	for n.state.UGC.Secret() == nil {
		secret := make([]byte, ugc.SecretLen)
		if _, err := rand.Read(secret); err != nil {
			n.logger.Error("ugc: generate secret", "err", err)
			return
		}
		_, err := n.store.Apply(ctx, &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "node:" + n.cfg.Name,
			Op: &cassnetv1.Command_SetUgcSecret{SetUgcSecret: &cassnetv1.SetUGCSecret{Secret: secret, IfNone: true}}})
		if err != nil {
			n.logger.Debug("ugc: proposing the URL secret failed; retrying", "err", err)
			if !wait(time.Second) {
				return
			}
		}
	}
	peers, scheme := n.ugcPeers, n.ugcScheme
	svc, err := blob.New(blob.Config{
		Node:       n.cfg.Name,
		DataDir:    n.cfg.DataDir,
		SigningKey: blob.DeriveSigningKey(n.state.UGC.Secret()),
		PublicURL:  scheme + "://" + n.advertised(n.cfg.HTTPPort),
		Resolve: func(node string) (string, bool) {
			for _, m := range n.mesh.Members() {
				if m.Meta.Name == node && m.Meta.HTTPAddr != "" {
					return scheme + "://" + m.Meta.HTTPAddr, true
				}
			}
			return "", false
		},
		ProxyClient: peers,
		Logger:      n.logger.With("component", "ugc"),
		CollectS3:   n.store.IsLeader,
	})
	if err != nil {
		n.logger.Error("ugc: the blob service cannot start; uploads answer 503", "err", err)
		return
	}
	svc.OnComplete(n.api.PublishUpload)
	svc.OnReject(n.api.RejectUpload)
	n.ugc.svc.Store(svc)
	if err := svc.Run(ctx); err != nil && ctx.Err() == nil {
		n.logger.Error("ugc: the blob service stopped", "err", err)
	}
}

package node

import (
	"cmp"
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
// built it. It needs the replicated URL signing secret, which is written
// only when UGC is first used (so a cluster that never uses it keeps its
// state hash): a call before then asks runUGC for it and waits up to
// ugcStartWait, then answers ErrUGCUnavailable (503).
type ugcBlobs struct {
	svc   atomic.Pointer[blob.Service]
	want  chan struct{} // poked by a caller that needs the service
	ready chan struct{} // closed once svc is set
}

func newUGCBlobs() *ugcBlobs {
	return &ugcBlobs{want: make(chan struct{}, 1), ready: make(chan struct{})}
}

// ugcStartWait bounds how long a request waits for the blob service.
const ugcStartWait = 10 * time.Second

var _ api.UGCBlobs = (*ugcBlobs)(nil)

// get returns the service, asking for it and waiting if it is not built.
func (u *ugcBlobs) get(ctx context.Context) (*blob.Service, error) {
	if s := u.svc.Load(); s != nil {
		return s, nil
	}
	select {
	case u.want <- struct{}{}:
	default:
	}
	t := time.NewTimer(ugcStartWait)
	defer t.Stop()
	select {
	case <-u.ready:
		return u.svc.Load(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, api.ErrUGCUnavailable
	}
}

func (u *ugcBlobs) Create(ctx context.Context, up blob.Upload) (string, error) {
	s, err := u.get(ctx)
	if err != nil {
		return "", err
	}
	return s.Create(ctx, up)
}

func (u *ugcBlobs) DownloadURL(ctx context.Context, ref blob.Ref, name string, ttl time.Duration) (string, error) {
	s, err := u.get(ctx)
	if err != nil {
		return "", err
	}
	return s.DownloadURL(ctx, ref, name, ttl)
}

// Delete is called by the collector only for blobs recorded in the state,
// so UGC is in use; it never waits.
func (u *ugcBlobs) Delete(ctx context.Context, ref blob.Ref) error {
	if s := u.svc.Load(); s != nil {
		return s.Delete(ctx, ref)
	}
	return api.ErrUGCUnavailable
}

func (u *ugcBlobs) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := u.get(r.Context())
		if err != nil {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "the UGC blob service is starting", http.StatusServiceUnavailable)
			return
		}
		s.Handler().ServeHTTP(w, r)
	})
}

// runUGC waits until the node is ready and UGC is in use (a secret was
// replicated, or a request needs the blob service: then this node
// proposes one; the first proposal wins), builds the blob service with
// its callbacks wired to the API, and runs its collection loop until ctx
// ends.
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
	wanted := false
	for n.state.UGC.Secret() == nil {
		if !wanted {
			select {
			case <-ctx.Done():
				return
			case <-n.ugc.want:
				wanted = true
			case <-time.After(time.Second): // or another node sets it
				continue
			}
		}
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
		Node:           n.cfg.Name,
		DataDir:        n.cfg.DataDir,
		SigningKey:     blob.DeriveSigningKey(n.state.UGC.Secret()),
		PublicURL:      cmp.Or(n.cfg.UGC.PublicURL, scheme+"://"+n.advertised(n.cfg.HTTPPort)),
		S3:             n.cfg.UGC.S3Config(),
		MaxUploadBytes: n.cfg.UGC.MaxUploadBytes,
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
	if err := svc.RegisterMetrics(n.api.Registry()); err != nil {
		n.logger.Warn("ugc: metrics not registered", "err", err)
	}
	svc.OnComplete(n.api.PublishUpload)
	svc.OnReject(n.api.RejectUpload)
	n.ugc.svc.Store(svc)
	close(n.ugc.ready)
	if err := svc.Run(ctx); err != nil && ctx.Err() == nil {
		n.logger.Error("ugc: the blob service stopped", "err", err)
	}
}

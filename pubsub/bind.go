package pubsub

import (
	"context"
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	"github.com/cassandranet/cassnet/mesh"
	"github.com/cassandranet/cassnet/pki"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Binder timings: how often members are checked for a certificate not yet
// verified, how long one fetch may take, and how long a failed member
// waits before the next attempt.
const (
	bindEvery   = 500 * time.Millisecond
	bindTimeout = 5 * time.Second
	bindRetry   = 2 * time.Second
)

// CertFetch returns member m's current node certificate, learned over a
// connection that verified it against the cluster CA (mutual TLS to the
// member's Raft/RPC port; see consensus.PeerCertificate). Gossip metadata
// is unsigned: it says where to ask, never what is bound.
type CertFetch func(ctx context.Context, m mesh.Member) (*x509.Certificate, error)

// Binder knows which libp2p peer ID each member's CA-verified certificate
// binds (pki.PeerIDOf). With Config.Binder set, the gater admits a peer
// ID only if an alive or suspect member advertises it in gossip AND that
// member's certificate, fetched over mTLS, binds it to the member's name.
// A binding holds until the certificate expires or the member's
// advertised name, Raft address or peer ID changes; it is refreshed
// halfway to expiry, so a renewed certificate takes over seamlessly.
type Binder struct {
	fetch CertFetch
	now   func() time.Time
	nudge chan struct{}

	mu    sync.Mutex
	known map[string]binding // node ID ->
}

type binding struct {
	peerID, name, raftAddr string
	notAfter               time.Time
	refreshAt              time.Time // fetch again (halfway to notAfter)
	retryAt                time.Time // after a failed fetch
	busy                   bool
}

// NewBinder returns a Binder that learns certificates with fetch.
func NewBinder(fetch CertFetch) *Binder {
	return &Binder{fetch: fetch, now: time.Now, nudge: make(chan struct{}, 1),
		known: make(map[string]binding)}
}

// Bound reports whether m's verified certificate binds pid.
func (b *Binder) Bound(m mesh.Member, pid peer.ID) bool {
	b.mu.Lock()
	k, ok := b.known[m.ID]
	b.mu.Unlock()
	if ok && k.current(m) && k.peerID == pid.String() {
		return true
	}
	select { // ask run to look now (a member that just joined)
	case b.nudge <- struct{}{}:
	default:
	}
	return false
}

func (k binding) current(m mesh.Member) bool {
	return k.peerID != "" && k.peerID == m.PeerID && k.name == m.Name && k.raftAddr == m.RaftAddr &&
		time.Now().Before(k.notAfter)
}

// run verifies members until ctx ends.
func (b *Binder) run(ctx context.Context, members Members, self string) {
	t := time.NewTicker(bindEvery)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		b.sync(ctx, members.Members(), self, &wg)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.nudge:
		}
	}
}

// sync starts a fetch for every alive or suspect member whose binding is
// unknown or stale and not already being fetched.
func (b *Binder) sync(ctx context.Context, members []mesh.Member, self string, wg *sync.WaitGroup) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range members {
		if m.ID == self || m.PeerID == "" || m.RaftAddr == "" ||
			m.Status != mesh.StatusAlive && m.Status != mesh.StatusSuspect {
			continue
		}
		k := b.known[m.ID]
		if k.busy || k.current(m) && now.Before(k.refreshAt) || now.Before(k.retryAt) && k.raftAddr == m.RaftAddr {
			continue
		}
		k.busy = true
		b.known[m.ID] = k
		wg.Go(func() { b.learn(ctx, m) })
	}
}

// learn fetches m's certificate and records the peer ID it binds. It
// fetches again halfway to the certificate's expiry, so that a renewed
// certificate replaces the binding before the old one lapses; a failed
// refresh keeps the current binding until it expires.
func (b *Binder) learn(ctx context.Context, m mesh.Member) {
	ctx, cancel := context.WithTimeout(ctx, bindTimeout)
	defer cancel()
	pid, cert, err := b.verify(ctx, m)
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	k := binding{name: m.Name, raftAddr: m.RaftAddr}
	switch old := b.known[m.ID]; {
	case err == nil:
		k.peerID, k.notAfter = pid, cert.NotAfter
		k.refreshAt = now.Add(cert.NotAfter.Sub(now) / 2)
	case old.current(m):
		k = old
		k.busy, k.retryAt = false, now.Add(bindRetry)
	default:
		k.retryAt = now.Add(bindRetry)
	}
	b.known[m.ID] = k
}

func (b *Binder) verify(ctx context.Context, m mesh.Member) (string, *x509.Certificate, error) {
	cert, err := b.fetch(ctx, m)
	if err != nil {
		return "", nil, err
	}
	if cert.Subject.CommonName != m.Name {
		return "", nil, fmt.Errorf("pubsub: certificate at %s is for %q, not member %q",
			m.RaftAddr, cert.Subject.CommonName, m.Name)
	}
	pid, err := pki.PeerIDOf(cert)
	if err != nil {
		return "", nil, fmt.Errorf("pubsub: member %s: %w", m.Name, err)
	}
	return pid, cert, nil
}

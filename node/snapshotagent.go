package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cassandranet/cassnet/consensus"
)

// The snapshot agent (--snapshot-interval, --snapshot-dir,
// --snapshot-retain) writes a snapshot archive of the replicated state
// every interval, as Consul's snapshot agent does. Every node may run it
// with the same flags; only the leader writes, so a cluster writes one
// archive per interval wherever its leader is. Files are named
// cassnet-<UTC time>-<index>.snap, written to a temporary name, synced and
// renamed, so a crash leaves no partial archive under a real name; the
// oldest beyond the retention are removed.

const (
	snapshotPrefix = "cassnet-"
	snapshotSuffix = ".snap"
	// DefaultSnapshotRetain is how many archives the agent keeps.
	DefaultSnapshotRetain = 30
)

// startSnapshotAgent starts the agent if an interval is configured.
func (n *Node) startSnapshotAgent(ctx context.Context) {
	if n.cfg.SnapshotAgentInterval <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	n.snapCancel, n.snapDone = cancel, make(chan struct{})
	go func() {
		defer close(n.snapDone)
		n.snapshotLoop(ctx)
	}()
	n.logger.Info("snapshot agent started", "interval", n.cfg.SnapshotAgentInterval,
		"dir", n.cfg.SnapshotAgentDir, "retain", n.cfg.SnapshotAgentRetain)
}

// stopSnapshotAgent stops the agent and waits for it.
func (n *Node) stopSnapshotAgent() {
	if n.snapCancel == nil {
		return
	}
	n.snapCancel()
	<-n.snapDone
}

func (n *Node) snapshotLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.SnapshotAgentInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !n.store.IsLeader() || !n.store.Ready() {
			continue
		}
		path, err := n.saveSnapshot(ctx)
		if err != nil {
			n.logger.Warn("snapshot agent: save failed", "err", err)
			continue
		}
		n.logger.Info("snapshot agent: saved", "file", path)
		if err := pruneSnapshots(n.cfg.SnapshotAgentDir, n.cfg.SnapshotAgentRetain); err != nil {
			n.logger.Warn("snapshot agent: pruning old archives failed", "err", err)
		}
	}
}

// saveSnapshot writes one archive into the snapshot dir.
func (n *Node) saveSnapshot(ctx context.Context) (string, error) {
	dir := n.cfg.SnapshotAgentDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create snapshot dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+snapshotPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("create snapshot file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	meta, err := n.store.SaveSnapshot(sctx, tmp, consensus.ArchiveMeta{ClusterID: n.clusterID(), Node: n.cfg.Name})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write snapshot: %w", err)
	}
	name := fmt.Sprintf("%s%s-%d%s", snapshotPrefix, meta.Created.Format("20060102T150405.000Z"), meta.Index, snapshotSuffix)
	path := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("rename snapshot: %w", err)
	}
	return path, nil
}

// pruneSnapshots removes the oldest archives in dir beyond retain. The
// names sort by time.
func pruneSnapshots(dir string, retain int) error {
	if retain <= 0 {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && strings.HasPrefix(n, snapshotPrefix) && strings.HasSuffix(n, snapshotSuffix) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for len(names) > retain {
		if err := os.Remove(filepath.Join(dir, names[0])); err != nil {
			return err
		}
		names = names[1:]
	}
	return nil
}

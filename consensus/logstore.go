package consensus

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"go.etcd.io/bbolt"
)

// The Raft log and stable store of one data dir (DataDir/raft) is one of
// two layouts, chosen once when the data dir is created (Config.LogStore,
// the agent's --raft-log-store) and never changed:
//
//   - raft-wal in raft/wal/: what the agent gives a new data dir (its
//     --raft-log-store default), as Consul does since 1.20 (a fresh
//     server gets raft-wal, one with a raft.db keeps bolt:
//     hashicorp/consul#21992). One fdatasync per append where bolt makes
//     two, and no B+tree to rewrite: about 2.5x less time per append on
//     the build machine, and 1.17-1.27x etcd's writes/s through REST
//     where bolt made 0.75-1.03x (docs/benchmarks.md, "Issue 17, fourth
//     session").
//   - raft-boltdb in raft/raft.db: every data dir created by earlier
//     releases, kept as it is (there is no migration, so an upgrade never
//     rewrites a log), and what an empty Config.LogStore gives.
//
// A new WAL data dir also gets a small marker file at raft/raft.db. It is
// not a bolt file, so an older release, which opens that path with
// raft-boltdb, refuses to start ("file size too small") instead of
// starting with an empty log and a forgotten term and vote, which would
// let it vote twice in one term. The marker is never read as a log.
const (
	walDirName  = "wal"
	boltLogName = "raft.db"
	walMarker   = "cassnet: this data dir keeps its Raft log in raft/wal (hashicorp/raft-wal).\n" +
		"This file is not a bolt database: it stops an older cassnet, which expects raft-boltdb here,\n" +
		"from starting with an empty log.\n"
)

// Log store kinds, as RaftInfo-style reports name them.
const (
	LogStoreWAL  = "wal"
	LogStoreBolt = "boltdb"
)

// logStore is the durable Raft log and stable store (term, vote). Raft
// calls it from its own goroutines; both implementations are safe for
// concurrent use.
type logStore interface {
	raft.LogStore
	raft.StableStore
	io.Closer
}

// openLogStore opens the log store of the raft dir, whichever layout it
// holds; a dir that holds neither gets fresh, the kind newKind names
// (LogStoreBolt when empty; the agent passes LogStoreWAL). With lockTimeout > 0 it fails with ErrDataDirInUse,
// instead of blocking, when another process holds the store (Recover runs
// beside a possibly running agent).
func openLogStore(dir string, logger hclog.Logger, lockTimeout time.Duration, newKind string) (logStore, string, error) {
	walDir := filepath.Join(dir, walDirName)
	boltPath := filepath.Join(dir, boltLogName)
	hasWAL, err := exists(walDir)
	if err != nil {
		return nil, "", err
	}
	if !hasWAL {
		hasBolt, err := exists(boltPath)
		if err != nil {
			return nil, "", err
		}
		switch {
		case hasBolt, newKind == "", newKind == LogStoreBolt:
			s, err := openBolt(boltPath, lockTimeout)
			return s, LogStoreBolt, err
		case newKind != LogStoreWAL:
			return nil, "", fmt.Errorf("unknown raft log store %q (want %s or %s)", newKind, LogStoreBolt, LogStoreWAL)
		}
	}
	s, err := openWAL(walDir, logger, lockTimeout)
	if err != nil {
		return nil, "", err
	}
	// After the WAL dir exists, so that a crash in between leaves a data
	// dir that opens as a WAL and gets its marker on the next start.
	if err := ensureWALMarker(boltPath); err != nil {
		s.Close()
		return nil, "", err
	}
	return s, LogStoreWAL, nil
}

func openBolt(path string, lockTimeout time.Duration) (logStore, error) {
	opts := raftboltdb.Options{Path: path}
	if lockTimeout > 0 {
		opts.BoltOptions = &bbolt.Options{Timeout: lockTimeout}
	}
	s, err := raftboltdb.New(opts)
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("%s: %w", path, ErrDataDirInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open raft log %s: %w", path, err)
	}
	return s, nil
}

func openWAL(dir string, logger hclog.Logger, lockTimeout time.Duration) (logStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create raft log dir: %w", err)
	}
	if lockTimeout > 0 {
		// raft-wal opens its meta file with bolt's default options, which
		// wait for the lock forever: probe it first.
		meta := filepath.Join(dir, metadb.FileName)
		if ok, err := exists(meta); err != nil {
			return nil, err
		} else if ok {
			db, err := bbolt.Open(meta, 0o600, &bbolt.Options{Timeout: lockTimeout})
			if errors.Is(err, bbolt.ErrTimeout) {
				return nil, fmt.Errorf("%s: %w", dir, ErrDataDirInUse)
			}
			if err != nil {
				return nil, fmt.Errorf("open raft log %s: %w", meta, err)
			}
			if err := db.Close(); err != nil {
				return nil, fmt.Errorf("open raft log %s: %w", meta, err)
			}
		}
	}
	meta := &metadb.BoltMetaDB{}
	w, err := wal.Open(dir, wal.WithLogger(logger), wal.WithMetaStore(meta))
	if err != nil {
		meta.Close()
		return nil, fmt.Errorf("open raft log %s: %w", dir, err)
	}
	// raft-wal v0.4.1+ closes the meta store, and with it the file lock,
	// in WAL.Close: a restarted Store reopens the dir in this process.
	return w, nil
}

// ensureWALMarker writes the marker at path (see walMarker) if nothing is
// there, durably: the file, then its directory.
func ensureWALMarker(path string) error {
	if ok, err := exists(path); err != nil || ok {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write log store marker: %w", err)
	}
	_, werr := f.WriteString(walMarker)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("write log store marker: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write log store marker: %w", err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("sync raft dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync raft dir: %w", err)
	}
	return nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("inspect %s: %w", path, err)
	}
}

// hasLogStore reports whether the raft dir holds a log store of either
// layout.
func hasLogStore(dir string) (bool, error) {
	for _, name := range []string{walDirName, boltLogName} {
		if ok, err := exists(filepath.Join(dir, name)); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

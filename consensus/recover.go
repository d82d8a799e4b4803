package consensus

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
)

// RecoverConfig names the server to recover: one whose cluster lost its
// quorum for good.
type RecoverConfig struct {
	// NodeID and Address are this server's Raft ID and advertised
	// host:port, which become the only voter.
	NodeID  string
	Address string
	// DataDir is the node's data dir (the Raft log and raft/snapshots
	// inside, as Store.Start lays them out; see logstore.go).
	DataDir string
	// DryRun only reports what is there.
	DryRun bool
	// Modules returns a fresh, empty set of the node's domain modules
	// (state.New().Modules()); it is called once per state machine
	// Recover builds.
	Modules func() []Module
	Logger  *slog.Logger
}

// RecoverReport says what Recover found and did.
type RecoverReport struct {
	// LastIndex and LastTerm are the newest entry in this server's log
	// (or snapshot): with several survivors, recover the one with the
	// highest.
	LastIndex, LastTerm uint64
	// Before is the configuration the log held.
	Before []ServerConfig
	// AppliedIndex and StateHash describe the state machine after every
	// entry in the log was applied (zero on a dry run).
	AppliedIndex uint64
	StateHash    string
}

// ErrDataDirInUse is returned when the Raft log is locked by a running
// agent.
var ErrDataDirInUse = errors.New("the raft log is in use: stop the agent first")

// ErrLogUnreadable is returned when Raft cannot read an entry of this
// node's log on start: the data dir is damaged. Its state is on the other
// servers; remove the node and let it rejoin with an empty data dir
// (docs/operations.md, "A damaged Raft log").
var ErrLogUnreadable = errors.New("the raft log in the data dir is damaged: an entry cannot be read; rejoin this node with an empty data dir (docs/operations.md)")

// Recover rewrites a stopped server's Raft state so that it alone is the
// cluster's voter, as raft.RecoverCluster (and Consul's peers.json) do: it
// restores the newest snapshot, applies every entry of its log, writes a
// snapshot whose configuration names only this server, and compacts the
// log. Every write this server had in its log survives, including entries
// that had not committed; writes it never received are lost. It must run
// while the agent is stopped; the agent then starts as a one-voter cluster
// and autopilot adds new nodes as they join.
func Recover(cfg RecoverConfig) (RecoverReport, error) {
	var rep RecoverReport
	if cfg.NodeID == "" || cfg.Address == "" || cfg.DataDir == "" || cfg.Modules == nil {
		return rep, errors.New("recover: NodeID, Address, DataDir and Modules are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dir := filepath.Join(cfg.DataDir, "raft") // as Store.Start
	if ok, err := hasLogStore(dir); err != nil {
		return rep, fmt.Errorf("recover: %w", err)
	} else if !ok {
		return rep, fmt.Errorf("recover: no raft log in %s: %w", cfg.DataDir, fs.ErrNotExist)
	}
	rlog := newRaftLogger(cfg.Logger)
	store, _, err := openLogStore(dir, rlog, time.Second, "") // an existing log: its own kind
	if err != nil {
		return rep, fmt.Errorf("recover: %w", err)
	}
	defer store.Close()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, rlog)
	if err != nil {
		return rep, fmt.Errorf("recover: open snapshots: %w", err)
	}
	has, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		return rep, fmt.Errorf("recover: %w", err)
	}
	if !has {
		return rep, fmt.Errorf("recover: %s holds no raft state", cfg.DataDir)
	}

	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(cfg.NodeID)
	conf.Logger = rlog
	_, trans := raft.NewInmemTransport(raft.ServerAddress(cfg.Address))
	defer trans.Close()

	probe, err := NewFSM(cfg.Modules(), cfg.Logger)
	if err != nil {
		return rep, fmt.Errorf("recover: %w", err)
	}
	before, err := raft.GetConfiguration(conf, probe, store, store, snaps, trans)
	if err != nil {
		return rep, fmt.Errorf("recover: read configuration: %w", err)
	}
	for _, srv := range before.Servers {
		suffrage := "nonvoter"
		if srv.Suffrage == raft.Voter {
			suffrage = "voter"
		}
		rep.Before = append(rep.Before, ServerConfig{ID: string(srv.ID), Address: string(srv.Address), Suffrage: suffrage})
	}
	if rep.LastIndex, rep.LastTerm, err = lastEntry(store, snaps); err != nil {
		return rep, err
	}
	if cfg.DryRun {
		return rep, nil
	}

	fsm, err := NewFSM(cfg.Modules(), cfg.Logger)
	if err != nil {
		return rep, fmt.Errorf("recover: %w", err)
	}
	only := raft.Configuration{Servers: []raft.Server{{
		Suffrage: raft.Voter, ID: raft.ServerID(cfg.NodeID), Address: raft.ServerAddress(cfg.Address),
	}}}
	if err := raft.RecoverCluster(conf, fsm, store, store, snaps, trans, only); err != nil {
		return rep, fmt.Errorf("recover: %w", err)
	}
	rep.AppliedIndex, rep.StateHash = fsm.Applied().Index(), fsm.Hash()
	cfg.Logger.Info("recovered: this server is now the only voter", "id", cfg.NodeID, "addr", cfg.Address,
		"last_index", rep.LastIndex, "applied_index", rep.AppliedIndex)
	return rep, nil
}

// lastEntry is the index and term of the newest log entry, or of the
// newest snapshot if the log is empty past it.
func lastEntry(logs raft.LogStore, snaps raft.SnapshotStore) (uint64, uint64, error) {
	var index, term uint64
	if list, err := snaps.List(); err == nil && len(list) > 0 {
		index, term = list[0].Index, list[0].Term
	}
	last, err := logs.LastIndex()
	if err != nil {
		return 0, 0, fmt.Errorf("recover: read last index: %w", err)
	}
	if last > index {
		var e raft.Log
		if err := logs.GetLog(last, &e); err != nil {
			return 0, 0, fmt.Errorf("recover: read entry %d: %w", last, err)
		}
		index, term = e.Index, e.Term
	}
	return index, term, nil
}

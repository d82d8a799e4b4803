package node

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state"
)

// Recover makes the stopped node whose data dir is dataDir the only voter
// of its cluster, after the cluster lost its quorum for good
// (consensus.Recover; docs/operations.md#recovery-from-lost-quorum). Its
// Raft ID and advertised Raft address come from the data dir. With dryRun
// it only reports the node's last log entry and configuration, to choose
// the survivor with the most data.
func Recover(ctx context.Context, dataDir string, dryRun bool, logger *slog.Logger) (consensus.RecoverReport, error) {
	if dataDir == "" {
		return consensus.RecoverReport{}, errors.New("--data-dir is required")
	}
	cfg := Defaults()
	cfg.DataDir = dataDir
	id, err := mergePersisted(&cfg, map[string]bool{})
	if err != nil {
		return consensus.RecoverReport{}, err
	}
	if id == "" {
		return consensus.RecoverReport{}, errors.New(dataDir + " is not a cassnet data dir (no " + nodeFile + ")")
	}
	if err := cfg.resolveAdvertise(ctx); err != nil {
		return consensus.RecoverReport{}, err
	}
	return consensus.Recover(consensus.RecoverConfig{
		NodeID:  id,
		Address: net.JoinHostPort(cfg.advertiseIP(), strconv.Itoa(cfg.RaftPort)),
		DataDir: dataDir,
		DryRun:  dryRun,
		Logger:  logger,
		Modules: func() []consensus.Module { return state.New().Modules() },
	})
}

package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/cassandranet/cassnet/node"
)

const recoverUsage = `Usage: cassnet recover --data-dir DIR [--dry-run]

Recovers from a lost quorum: with the agent stopped, makes this node the
only voter of its cluster, keeping every write in its log. Start the agent
again afterwards; new nodes join with a fresh join token (cassnet
join-token create). With several survivors, run --dry-run on each and
recover the one with the highest last index; wipe the others' data dirs
and join them as new nodes. See docs/operations.md#recovery-from-lost-quorum.`

func runRecover(args []string) error {
	fs := flag.NewFlagSet("recover", flag.ContinueOnError)
	fs.Usage = flagUsage(fs, recoverUsage)
	dataDir := fs.String("data-dir", "", "the stopped node's data dir (required)")
	dryRun := fs.Bool("dry-run", false, "only print the node's last log entry and Raft configuration")
	if _, err := parseWithEnv(fs, args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep, err := node.Recover(context.Background(), *dataDir, *dryRun, logger)
	if err != nil {
		return err
	}
	fmt.Printf("last log entry: index %d, term %d\n", rep.LastIndex, rep.LastTerm)
	fmt.Println("raft configuration in the log:")
	for _, s := range rep.Before {
		fmt.Printf("  %-36s %-22s %s\n", s.ID, s.Address, s.Suffrage)
	}
	if *dryRun {
		fmt.Println("dry run: nothing changed")
		return nil
	}
	fmt.Printf("recovered: this node is now the only voter (applied index %d, state hash %s).\n", rep.AppliedIndex, rep.StateHash)
	fmt.Println("Next: start the agent on this data dir, then join new nodes with a fresh token (cassnet join-token create).")
	return nil
}

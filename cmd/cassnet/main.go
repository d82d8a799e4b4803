// Command cassnet is the CassandraNet agent and its operator CLI.
//
// main only parses flags and starts a node; everything else lives in the
// packages it calls.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/cassandranet/cassnet/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

var usage = `cassnet: a peer-to-peer mesh of agents for running game-server fleets.

Usage:
  cassnet agent [flags]      run a node (see: cassnet agent --help)
  cassnet leave [flags]      make a running node leave the cluster gracefully
  cassnet operator raft ...  list-peers, remove-peer --id ID: the Raft configuration
  cassnet operator autopilot get|set  the replicated autopilot settings
  cassnet snapshot <cmd>     save FILE, inspect FILE, restore FILE [--force]: backups of the state
  cassnet recover [flags]    make a stopped node the only voter after quorum is lost for good
  cassnet token create ...   create an operator token or a tenant API key
  cassnet keyring <cmd>      rotate the gossip key: list, install, use, remove, generate
  cassnet join-token <cmd>   create [--ttl], list or revoke join tokens
  cassnet tls ca|cert create write a CA or a node certificate as PEM files
  cassnet bench [flags]      start a 3-node cluster and measure it
  cassnet testnet <cmd>      local test network and chaos runs (up, status, down, run)
  cassnet version            print the version

Everyday work, over the REST API (--http-addr, --token or CASS_TOKEN;
tables by default, --json for the API's JSON; --help shows an example):
` + cli.Usage() + `
Every flag can also be set through an environment variable: CASS_ followed
by the flag name in upper case with dashes as underscores (--data-dir is
CASS_DATA_DIR). A flag on the command line wins over the environment.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "agent":
		err = runAgent(os.Args[2:])
	case "leave":
		err = runLeave(os.Args[2:])
	case "operator":
		err = runOperator(os.Args[2:])
	case "recover":
		err = runRecover(os.Args[2:])
	case "snapshot":
		err = runSnapshot(os.Args[2:])
	case "token":
		err = runToken(os.Args[2:])
	case "keyring":
		err = runKeyring(os.Args[2:])
	case "join-token":
		err = runJoinToken(os.Args[2:])
	case "tls":
		err = runTLS(os.Args[2:])
	case "bench":
		err = runBench(os.Args[2:])
	case "testnet":
		err = runTestnet(os.Args[2:])
	case "drain", "uncordon": // cassnet drain NODE is cassnet nodes drain NODE
		err = cli.Run(context.Background(), append([]string{"nodes"}, os.Args[1:]...), os.Stdout, os.Stderr)
		if errors.Is(err, cli.ErrUsage) {
			os.Exit(2)
		}
	case "version", "--version", "-v":
		fmt.Println(version)
	case "help", "--help", "-h":
		fmt.Print(usage)
	default:
		if !slices.Contains(cli.Nouns(), os.Args[1]) {
			fmt.Fprintf(os.Stderr, "cassnet: unknown command %q\n\n%s", os.Args[1], usage)
			os.Exit(2)
		}
		args := os.Args[1:]
		if args[0] == "members" && (len(args) == 1 || strings.HasPrefix(args[1], "-")) {
			args = append([]string{"members", "list"}, args[1:]...) // the old "cassnet members"
		}
		err = cli.Run(context.Background(), args, os.Stdout, os.Stderr)
		if errors.Is(err, cli.ErrUsage) {
			os.Exit(2)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cassnet:", err)
		os.Exit(1)
	}
}

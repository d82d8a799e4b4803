package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
)

const keyringUsage = `Usage: cassnet keyring list|install|use|remove|generate [flags]

Rotates the gossip encryption key with no downtime, as Consul does:
  key=$(cassnet keyring generate)
  cassnet keyring install --key "$key"   every node can now decrypt with it
  cassnet keyring use --key "$key"       every node now encrypts with it
  cassnet keyring remove --key OLD       the old key stops working
Each step is replicated through Raft; every node applies it to its gossip
keyring and its data dir (gossip-keys.json), so a rotation in progress
survives restarts. list shows key IDs (never keys). generate prints a new
random 32-byte key, base64, without contacting a node.`

// runKeyring dispatches "cassnet keyring <subcommand>".
func runKeyring(args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, keyringUsage)
		return errors.New("keyring: expected a subcommand")
	}
	sub := args[0]
	if sub == "generate" {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return fmt.Errorf("generate key: %w", err)
		}
		fmt.Println(base64.StdEncoding.EncodeToString(key))
		return nil
	}
	var c clientFlags
	fs := flag.NewFlagSet("keyring "+sub, flag.ContinueOnError)
	fs.Usage = flagUsage(fs, keyringUsage)
	c.register(fs)
	key := fs.String("key", "", "the gossip key, base64 (install, use, remove)")
	if _, err := parseWithEnv(fs, args[1:]); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	var out []byte
	var err error
	switch sub {
	case "list":
		out, err = c.do(http.MethodGet, "/v1/cluster/keyring", nil)
	case "install", "use", "remove":
		raw, derr := base64.StdEncoding.DecodeString(*key)
		if derr != nil || (len(raw) != 16 && len(raw) != 24 && len(raw) != 32) {
			return errors.New("--key: must be base64 of 16, 24 or 32 bytes")
		}
		out, err = c.do(http.MethodPost, "/v1/cluster/keyring", map[string]any{"action": sub, "key": raw})
	default:
		fmt.Fprintln(os.Stderr, keyringUsage)
		return fmt.Errorf("keyring: unknown subcommand %q", sub)
	}
	if err != nil {
		return err
	}
	os.Stdout.Write(out)
	return nil
}

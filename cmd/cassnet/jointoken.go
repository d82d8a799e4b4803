package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cassandranet/cassnet/pki"
	"github.com/cassandranet/cassnet/state/cluster"
)

const joinTokenUsage = `Usage: cassnet join-token create [--ttl D] | list | revoke --id ID|TOKEN [flags]

create makes a new join token on a running node and prints it once; only
the SHA-256 of its secret is replicated. revoke deletes a token (by its ID
or the token itself): it can no longer be used to join; nodes that joined
with it keep their certificates. list shows IDs and lifetimes.`

// runJoinToken dispatches "cassnet join-token <subcommand>".
func runJoinToken(args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, joinTokenUsage)
		return errors.New("join-token: expected create, list or revoke")
	}
	sub := args[0]
	var c clientFlags
	fs := flag.NewFlagSet("join-token "+sub, flag.ContinueOnError)
	fs.Usage = flagUsage(fs, joinTokenUsage)
	c.register(fs)
	ttl := fs.Duration("ttl", 0, "lifetime of a created token, e.g. 24h (0: never expires)")
	idFlag := fs.String("id", "", "revoke: the token's ID, or the token itself")
	if _, err := parseWithEnv(fs, args[1:]); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	switch sub {
	case "create":
		if *ttl < 0 || (*ttl > 0 && *ttl < time.Second) {
			return errors.New("--ttl: must be 0 or at least 1s")
		}
		out, err := c.do(http.MethodPost, "/v1/cluster/join-tokens", map[string]any{"ttl_seconds": int64(ttl.Seconds())})
		if err != nil {
			return err
		}
		var resp struct {
			ID    string `json:"id"`
			Token string `json:"token"`
		}
		if err := json.Unmarshal(out, &resp); err != nil || resp.Token == "" {
			return fmt.Errorf("the node answered without a token: %s", out)
		}
		fmt.Fprintf(os.Stderr, "created join token %s; it is shown once:\n", resp.ID)
		fmt.Println(resp.Token)
		return nil
	case "list":
		out, err := c.do(http.MethodGet, "/v1/cluster/join-tokens", nil)
		if err != nil {
			return err
		}
		os.Stdout.Write(out)
		return nil
	case "revoke":
		id := *idFlag
		if id == "" {
			return errors.New("revoke: --id (the token's ID or the token) is required")
		}
		if strings.HasPrefix(id, pki.TokenPrefix+"::") {
			tok, err := pki.ParseToken(id)
			if err != nil {
				return err
			}
			id = cluster.JoinTokenID(pki.SecretHash(tok.Secret))
		}
		if _, err := c.do(http.MethodDelete, "/v1/cluster/join-tokens/"+url.PathEscape(id), nil); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "revoked join token %s\n", id)
		return nil
	}
	fmt.Fprintln(os.Stderr, joinTokenUsage)
	return fmt.Errorf("join-token: unknown subcommand %q", sub)
}

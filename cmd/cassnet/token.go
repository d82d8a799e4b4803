package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"
)

const tokenUsage = `Usage: cassnet token create --role ROLE [flags]

Creates a credential on a running node and prints it once on stdout.
--role operator makes an operator token (POST /v1/auth/operator-tokens);
tenant-admin, game-server and read-only make an API key of --tenant
(POST /v1/tenants/{tenant}/keys). The caller's own credential is --token,
or the admin-token file of --data-dir.`

// runToken dispatches "cassnet token <subcommand>". It replaces the
// prototype's gen-token: credentials are made by a node, so only their
// hash is ever replicated.
func runToken(args []string) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(os.Stderr, tokenUsage)
		return errors.New("token: expected the subcommand create")
	}
	return runTokenCreate(args[1:])
}

func runTokenCreate(args []string) error {
	var c clientFlags
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	fs.Usage = flagUsage(fs, tokenUsage)
	c.register(fs)
	role := fs.String("role", "", "operator, tenant-admin, game-server or read-only (required)")
	tenant := fs.String("tenant", "", "the key's tenant (required unless --role operator)")
	project := fs.String("project", "", "scope a game-server key to one project")
	ttl := fs.Duration("ttl", 0, "lifetime, e.g. 720h (0: never expires)")
	name := fs.String("name", "", "a label shown in listings (default: cli-<role>)")
	if _, err := parseWithEnv(fs, args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if *ttl < 0 || (*ttl > 0 && *ttl < time.Second) {
		return errors.New("--ttl: must be 0 or at least 1s")
	}
	if *name == "" {
		*name = "cli-" + *role
	}
	body := map[string]any{"name": *name}
	if *ttl > 0 {
		body["ttl_seconds"] = int64(ttl.Seconds())
	}
	var path, field string
	switch *role {
	case "operator":
		if *tenant != "" || *project != "" {
			return errors.New("--tenant and --project do not apply to operator tokens")
		}
		path, field = "/v1/auth/operator-tokens", "token"
	case "tenant-admin", "game-server", "read-only":
		if *tenant == "" {
			return errors.New("--tenant is required for an API key")
		}
		body["role"] = *role
		if *project != "" {
			body["project_id"] = *project
		}
		path, field = "/v1/tenants/"+url.PathEscape(*tenant)+"/keys", "key"
	default:
		return fmt.Errorf("--role %q: must be operator, tenant-admin, game-server or read-only", *role)
	}
	out, err := c.do(http.MethodPost, path, body)
	if err != nil {
		return err
	}
	var resp map[string]any
	if err := json.Unmarshal(out, &resp); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	secret, _ := resp[field].(string)
	if secret == "" {
		return errors.New("the node answered without a credential")
	}
	fmt.Fprintf(os.Stderr, "created %s %v (role %s); it is shown once:\n", field, resp["id"], *role)
	fmt.Println(secret)
	return nil
}

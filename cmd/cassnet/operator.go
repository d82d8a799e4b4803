package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"text/tabwriter"
	"time"
)

const operatorUsage = `Usage: cassnet operator raft list-peers [flags]
       cassnet operator raft remove-peer --id ID|ADDRESS [flags]

list-peers prints the Raft configuration as the node sees it: each
server's node name, ID, address, state (leader, follower) and whether it
votes. remove-peer removes a server that is gone from the configuration
through the leader; a server still alive in gossip is added back as a
non-voter by autopilot, so make a live node leave instead (cassnet leave).
Both need an operator token.`

const autopilotUsage = `Usage: cassnet operator autopilot get [flags]
       cassnet operator autopilot set [--stabilization-time D] [--dead-server-grace D]
                                      [--target-voters N] [--cleanup-dead-servers=true|false] [flags]

get prints the autopilot configuration in force and which values are
replicated settings; the others are the leader's agent flags. set changes
them for the whole cluster, replicated through Raft, so they survive
restarts and leader changes and override every agent's flags. Both need
an operator token.`

func runOperator(args []string) error {
	if len(args) >= 1 && args[0] == "autopilot" {
		return runAutopilot(args[1:])
	}
	if len(args) < 2 || args[0] != "raft" {
		fmt.Fprintln(os.Stderr, operatorUsage)
		return errors.New("operator: expected raft list-peers or raft remove-peer")
	}
	sub := args[1]
	var c clientFlags
	fs := flag.NewFlagSet("operator raft "+sub, flag.ContinueOnError)
	fs.Usage = flagUsage(fs, operatorUsage)
	c.register(fs)
	id := fs.String("id", "", "remove-peer: the server's Raft ID or Raft address (host:port)")
	if _, err := parseWithEnv(fs, args[2:]); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	switch sub {
	case "list-peers":
		return listPeers(&c)
	case "remove-peer":
		if *id == "" {
			return errors.New("remove-peer: --id is required (see cassnet operator raft list-peers)")
		}
		out, err := c.do(http.MethodDelete, "/v1/cluster/raft/peers/"+url.PathEscape(*id), nil)
		if err != nil {
			return err
		}
		var v struct {
			Removed string `json:"removed"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			return fmt.Errorf("remove-peer: decode answer: %w", err)
		}
		fmt.Printf("removed %s from the raft configuration\n", v.Removed)
		return nil
	}
	return fmt.Errorf("operator raft: unknown command %q (list-peers, remove-peer)", sub)
}

func listPeers(c *clientFlags) error {
	var raftInfo struct {
		Servers []struct {
			ID       string `json:"id"`
			Address  string `json:"address"`
			Suffrage string `json:"suffrage"`
			Leader   bool   `json:"leader"`
		} `json:"servers"`
	}
	var members struct {
		Members []struct {
			Name   string `json:"name"`
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"members"`
	}
	for path, v := range map[string]any{"/v1/cluster/raft": &raftInfo, "/v1/members": &members} {
		out, err := c.do(http.MethodGet, path, nil)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(out, v); err != nil {
			return fmt.Errorf("decode %s: %w", path, err)
		}
	}
	names, status := map[string]string{}, map[string]string{}
	for _, m := range members.Members {
		names[m.ID], status[m.ID] = m.Name, m.Status
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Node\tID\tAddress\tState\tVoter\tGossip")
	for _, s := range raftInfo.Servers {
		state := "follower"
		if s.Leader {
			state = "leader"
		}
		name, gossip := names[s.ID], status[s.ID]
		if name == "" {
			name, gossip = "(unknown)", "not a member"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\n", name, s.ID, s.Address, state, s.Suffrage == "voter", gossip)
	}
	return tw.Flush()
}

func runAutopilot(args []string) error {
	if len(args) < 1 || (args[0] != "get" && args[0] != "set") {
		fmt.Fprintln(os.Stderr, autopilotUsage)
		return errors.New("operator autopilot: expected get or set")
	}
	var c clientFlags
	fs := flag.NewFlagSet("operator autopilot "+args[0], flag.ContinueOnError)
	fs.Usage = flagUsage(fs, autopilotUsage)
	c.register(fs)
	stab := fs.Duration("stabilization-time", 0, "set: how long a non-voter must be healthy before promotion")
	grace := fs.Duration("dead-server-grace", 0, "set: how long a failed server is kept before it is replaced and removed")
	voters := fs.Int("target-voters", 0, "set: target number of voters (1, 3, 5 or 7)")
	cleanup := fs.Bool("cleanup-dead-servers", true, "set: whether autopilot removes failed servers after the grace")
	explicit, err := parseWithEnv(fs, args[1:])
	if err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	var out []byte
	if args[0] == "get" {
		out, err = c.do(http.MethodGet, "/v1/operator/autopilot", nil)
	} else {
		body := map[string]any{}
		seconds := func(flagName, key string, d time.Duration) error {
			if !explicit[flagName] {
				return nil
			}
			if d < time.Second || d%time.Second != 0 {
				return fmt.Errorf("--%s %s: must be whole seconds, at least 1s", flagName, d)
			}
			body[key] = uint32(d / time.Second)
			return nil
		}
		if err := seconds("stabilization-time", "stabilization_seconds", *stab); err != nil {
			return err
		}
		if err := seconds("dead-server-grace", "dead_server_grace_seconds", *grace); err != nil {
			return err
		}
		if explicit["target-voters"] {
			body["target_voters"] = *voters
		}
		if explicit["cleanup-dead-servers"] {
			body["cleanup_dead_servers"] = *cleanup
		}
		if len(body) == 0 {
			return errors.New("operator autopilot set: give at least one setting (see --help)")
		}
		out, err = c.do(http.MethodPut, "/v1/operator/autopilot", body)
	}
	if err != nil {
		return err
	}
	var v struct {
		StabilizationSeconds   uint32         `json:"stabilization_seconds"`
		DeadServerGraceSeconds uint32         `json:"dead_server_grace_seconds"`
		TargetVoters           int            `json:"target_voters"`
		CleanupDeadServers     bool           `json:"cleanup_dead_servers"`
		Replicated             map[string]any `json:"replicated"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return fmt.Errorf("operator autopilot: decode answer: %w", err)
	}
	src := func(key string) string {
		if _, ok := v.Replicated[key]; ok {
			return "replicated"
		}
		return "agent flag"
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Setting\tValue\tFrom")
	fmt.Fprintf(tw, "StabilizationTime\t%s\t%s\n", time.Duration(v.StabilizationSeconds)*time.Second, src("stabilization_seconds"))
	fmt.Fprintf(tw, "DeadServerGrace\t%s\t%s\n", time.Duration(v.DeadServerGraceSeconds)*time.Second, src("dead_server_grace_seconds"))
	fmt.Fprintf(tw, "TargetVoters\t%d\t%s\n", v.TargetVoters, src("target_voters"))
	fmt.Fprintf(tw, "CleanupDeadServers\t%t\t%s\n", v.CleanupDeadServers, src("cleanup_dead_servers"))
	return tw.Flush()
}

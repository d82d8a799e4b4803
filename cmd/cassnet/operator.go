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
)

const operatorUsage = `Usage: cassnet operator raft list-peers [flags]
       cassnet operator raft remove-peer --id ID|ADDRESS [flags]

list-peers prints the Raft configuration as the node sees it: each
server's node name, ID, address, state (leader, follower) and whether it
votes. remove-peer removes a server that is gone from the configuration
through the leader; a server still alive in gossip is added back as a
non-voter by autopilot, so make a live node leave instead (cassnet leave).
Both need an operator token.`

func runOperator(args []string) error {
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

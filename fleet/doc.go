// Package fleet runs fleets on a node: the leader's controller, which
// decides how many servers each node starts, and every node's agent,
// which starts and stops the processes of the slots assigned to it.
//
// # Who decides
//
// Only the Raft leader plans (controller.go). Every second, and soon
// after each applied change, it compares each fleet's available servers
// (starting, ready, reserved) with what its buffer wants, and proposes
// PlaceFleetServers: new "starting" server records, each with a fresh
// random id and a node chosen among the alive members that run fleets
// (--fleet-allow), match the node_selector, are not drained, have no
// recent start error for the fleet and are below max_per_node, fewest
// fleet servers first, then lowest load (mesh Meta.Load). Apply
// (state/fleets) accepts the slots only while the fleet's counts allow,
// so two controllers (a deposed leader and the new one) proposing at the
// same time never overfill it. Excess ready servers are retired with a
// compare-and-set (SetServerState shutdown if_state ready): an allocated
// server is never picked.
//
// # What a node does
//
// The agent (agent.go) watches the records assigned to it. A starting
// record it has no process for is started through the supervisor with
// the fleet's spec and the env contract (CN_NODE, CN_KEY, CN_SERVER_ID,
// CN_FLEET, CN_PROJECT, CN_PORT_<NAME>); a start that fails is reported
// into the fleet's status (ReportFleetNode) and its record removed, so
// the controller places it elsewhere. A process whose record is gone
// (deleted fleet, scale-down, a match that ended) is stopped. A process
// that exits by itself (the match ended) has its record removed; one that
// crashed past max_restarts is marked unhealthy and removed later by the
// controller. A record of this node with no process (the node restarted)
// is lost and removed.
//
// # Credentials
//
// CN_KEY is "cnsk_<server id>.<MAC>", an HMAC-SHA256 under a secret this
// agent draws at start and never writes anywhere, over the server's
// tenant, project, fleet and id. Only this node can check it (the game
// server talks to its own node), only while the record is on this node,
// and it acts only as that one server (api.Principal.Server). Env values
// are never logged, and answers redact them.
//
// It must not touch Raft directly (it proposes through Proposer), nor
// HTTP (package api forwards power actions and logs here).
package fleet

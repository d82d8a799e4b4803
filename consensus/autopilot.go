package consensus

import (
	"context"
	"sort"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cassandranet/cassnet/mesh"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// AutopilotConfig tunes how the leader manages the Raft configuration from
// gossip membership, in the style of Consul's autopilot.
type AutopilotConfig struct {
	// Voters is the target number of voters: 3 or 5 (never even).
	Voters int
	// StabilizationTime is how long a non-voter must stay healthy before
	// it may be promoted.
	StabilizationTime time.Duration
	// DeadServerGrace is how long a server may be failed before it is
	// replaced and removed.
	DeadServerGrace time.Duration
	// LastContactThreshold: a server that has not heard from the leader
	// for longer is unhealthy.
	LastContactThreshold time.Duration
	// MaxTrailingLogs: a server further behind the leader's last index
	// is unhealthy.
	MaxTrailingLogs uint64
	// Interval between passes.
	Interval time.Duration
	// KeepDeadServers stops autopilot from removing failed servers; it
	// still removes servers that left.
	KeepDeadServers bool
}

// AutopilotOverrides are the replicated autopilot settings (Consul's
// `operator autopilot set-config`): every field that is set replaces the
// agent's AutopilotConfig value on whichever node leads. Zero or nil
// means unset.
type AutopilotOverrides struct {
	StabilizationTime time.Duration
	DeadServerGrace   time.Duration
	Voters            int
	// CleanupDeadServers false stops autopilot from removing failed
	// servers (a server that left is still removed).
	CleanupDeadServers *bool
}

// Apply returns c with o's set fields.
func (o AutopilotOverrides) Apply(c AutopilotConfig) AutopilotConfig {
	if o.StabilizationTime > 0 {
		c.StabilizationTime = o.StabilizationTime
	}
	if o.DeadServerGrace > 0 {
		c.DeadServerGrace = o.DeadServerGrace
	}
	if o.Voters > 0 {
		c.Voters = o.Voters
	}
	if o.CleanupDeadServers != nil {
		c.KeepDeadServers = !*o.CleanupDeadServers
	}
	return c
}

// Autopilot is the autopilot configuration in force: the agent's, with
// the replicated settings over it.
func (s *Store) Autopilot() AutopilotConfig {
	c := s.cfg.Autopilot
	if s.cfg.AutopilotSettings != nil {
		c = s.cfg.AutopilotSettings().Apply(c)
	}
	return c
}

func (c AutopilotConfig) withDefaults() AutopilotConfig {
	if c.Voters <= 0 {
		c.Voters = 3
	}
	if c.StabilizationTime <= 0 {
		c.StabilizationTime = 10 * time.Second
	}
	if c.DeadServerGrace <= 0 {
		c.DeadServerGrace = 30 * time.Second
	}
	if c.LastContactThreshold <= 0 {
		c.LastContactThreshold = 2 * time.Second
	}
	if c.MaxTrailingLogs == 0 {
		c.MaxTrailingLogs = 250
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	return c
}

// autopilot runs on the leader only. It keeps no membership list of its
// own: each pass reads the mesh and the Raft configuration afresh. Its
// only memory is when each server became healthy or failed.
type autopilot struct {
	s            *Store
	healthySince map[raft.ServerID]time.Time
	failedSince  map[raft.ServerID]time.Time
	// versions is the state version each server last reported.
	versions map[raft.ServerID]uint32
	kept     map[raft.ServerID]bool // failed voters kept, logged once
	// cfg is the configuration in force, read at the start of each pass.
	cfg AutopilotConfig
}

func newAutopilot(s *Store) *autopilot {
	return &autopilot{s: s, healthySince: map[raft.ServerID]time.Time{}, failedSince: map[raft.ServerID]time.Time{},
		versions: map[raft.ServerID]uint32{}, kept: map[raft.ServerID]bool{}}
}

func (a *autopilot) run(ctx context.Context) {
	t := time.NewTicker(a.s.cfg.Autopilot.Interval)
	defer t.Stop()
	for {
		a.pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.s.cfg.Members.Changes():
		}
	}
}

// pass makes at most a handful of configuration changes, each of which
// keeps a quorum of healthy voters.
func (a *autopilot) pass(ctx context.Context) {
	s := a.s
	a.cfg = s.Autopilot()
	fut := s.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		return
	}
	servers := fut.Configuration().Servers
	members := map[string]mesh.Member{}
	for _, m := range s.cfg.Members.Members() {
		if m.Role == mesh.RoleServer || m.Role == "" {
			members[m.ID] = m
		}
	}
	now := time.Now()
	inConfig := map[raft.ServerID]raft.Server{}
	for _, srv := range servers {
		inConfig[srv.ID] = srv
	}

	// 1. Add alive members that Raft does not know, as non-voters; and
	// fix the address of known servers that came back elsewhere.
	for _, m := range members {
		if m.Status != mesh.StatusAlive || m.RaftAddr == "" {
			continue
		}
		id := raft.ServerID(m.ID)
		srv, known := inConfig[id]
		switch {
		case !known:
			s.logger.Info("autopilot: adding non-voter", "id", m.ID, "name", m.Name, "addr", m.RaftAddr)
			if err := s.raft.AddNonvoter(id, raft.ServerAddress(m.RaftAddr), 0, applyTimeout).Error(); err != nil {
				s.logger.Warn("autopilot: add non-voter failed", "id", m.ID, "err", err)
			}
			return
		case string(srv.Address) != m.RaftAddr:
			s.logger.Info("autopilot: updating server address", "id", m.ID, "addr", m.RaftAddr)
			var f raft.IndexFuture
			if srv.Suffrage == raft.Voter {
				f = s.raft.AddVoter(id, raft.ServerAddress(m.RaftAddr), 0, applyTimeout)
			} else {
				f = s.raft.AddNonvoter(id, raft.ServerAddress(m.RaftAddr), 0, applyTimeout)
			}
			if err := f.Error(); err != nil {
				s.logger.Warn("autopilot: address update failed", "id", m.ID, "err", err)
			}
			return
		}
	}

	// 2. Health of every server.
	leaderLast := s.raft.LastIndex()
	healthy := map[raft.ServerID]bool{}
	voters, healthyVoters := 0, 0
	for _, srv := range servers {
		h := a.health(ctx, srv, members[string(srv.ID)], leaderLast)
		healthy[srv.ID] = h
		if h {
			if _, ok := a.healthySince[srv.ID]; !ok {
				a.healthySince[srv.ID] = now
			}
			delete(a.failedSince, srv.ID)
		} else {
			delete(a.healthySince, srv.ID)
			if _, ok := a.failedSince[srv.ID]; !ok {
				a.failedSince[srv.ID] = now
			}
		}
		if srv.Suffrage == raft.Voter {
			voters++
			if h {
				healthyVoters++
			}
		}
	}

	// The state version rises once every server supports the next one.
	a.raiseStateVersion(ctx, servers, healthy)

	// 3. Remove servers that left, or failed for longer than the grace,
	// as long as the healthy voters still form a quorum without them. A
	// failed voter is removed only if a stable non-voter can take its seat
	// or there are more voters than the target: otherwise removing it
	// would only shrink the cluster, and the server is most likely being
	// restarted slowly (an upgrade, a reboot) and would come back as a
	// non-voter, so the next restart in a rolling restart would cost the
	// quorum. Remove it by hand (operator raft remove-peer) if it is gone.
	stable := a.stableNonvoters(servers, now)
	for _, srv := range servers {
		if srv.ID == raft.ServerID(s.cfg.NodeID) || healthy[srv.ID] {
			continue
		}
		m, seen := members[string(srv.ID)]
		left := seen && m.Status == mesh.StatusLeft
		expired := now.Sub(a.failedSince[srv.ID]) >= a.cfg.DeadServerGrace && !a.cfg.KeepDeadServers
		if !left && !expired {
			continue
		}
		if srv.Suffrage == raft.Voter && healthyVoters < voters/2+1 {
			s.logger.Warn("autopilot: not removing failed voter: healthy voters would not form a quorum",
				"id", srv.ID, "voters", voters, "healthy_voters", healthyVoters)
			continue
		}
		if srv.Suffrage == raft.Voter && !left && keepFailedVoter(voters, a.cfg.Voters, len(stable)) {
			if !a.kept[srv.ID] {
				s.logger.Info("autopilot: keeping failed voter: no non-voter can replace it",
					"id", srv.ID, "failed_for", now.Sub(a.failedSince[srv.ID]).Round(time.Second))
				a.kept[srv.ID] = true
			}
			continue
		}
		delete(a.kept, srv.ID)
		s.logger.Info("autopilot: removing server", "id", srv.ID, "left", left, "voter", srv.Suffrage == raft.Voter)
		if err := s.raft.RemoveServer(srv.ID, 0, applyTimeout).Error(); err != nil {
			s.logger.Warn("autopilot: remove failed", "id", srv.ID, "err", err)
		}
		delete(a.failedSince, srv.ID)
		return
	}

	// 4. Promote stable non-voters while below the target, keeping the
	// voter count odd.
	target := a.cfg.Voters
	if voters >= target {
		return
	}
	for _, srv := range stable[:promotions(voters, len(stable), target)] {
		s.logger.Info("autopilot: promoting to voter", "id", srv.ID)
		if err := s.raft.AddVoter(srv.ID, srv.Address, 0, applyTimeout).Error(); err != nil {
			s.logger.Warn("autopilot: promote failed", "id", srv.ID, "err", err)
			return
		}
	}
}

// stableNonvoters are the non-voters healthy for the stabilisation time,
// by ID.
func (a *autopilot) stableNonvoters(servers []raft.Server, now time.Time) []raft.Server {
	var stable []raft.Server
	for _, srv := range servers {
		since, ok := a.healthySince[srv.ID]
		if srv.Suffrage == raft.Nonvoter && ok && now.Sub(since) >= a.cfg.StabilizationTime {
			stable = append(stable, srv)
		}
	}
	sort.Slice(stable, func(i, j int) bool { return stable[i].ID < stable[j].ID })
	return stable
}

// keepFailedVoter reports whether a voter failed past the grace stays in
// the configuration: when voters are not above target and no stable
// non-voter could be promoted in its place.
func keepFailedVoter(voters, target, stableSpares int) bool {
	return voters <= target && stableSpares == 0
}

// health reports whether srv is alive in gossip, answering status RPCs,
// in contact with the leader, and not far behind.
func (a *autopilot) health(ctx context.Context, srv raft.Server, m mesh.Member, leaderLast uint64) bool {
	s := a.s
	if srv.ID == raft.ServerID(s.cfg.NodeID) {
		return true
	}
	if m.ID == "" || m.Status != mesh.StatusAlive {
		return false
	}
	client, err := s.clients.get(string(srv.Address))
	if err != nil {
		return false
	}
	rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	st, err := client.Status(rctx, &cassnetv1.StatusRequest{})
	if err != nil {
		return false
	}
	a.versions[srv.ID] = st.GetStateVersion()
	if time.Duration(st.GetLastContactMs())*time.Millisecond > a.cfg.LastContactThreshold {
		return false
	}
	return st.GetLastIndex()+a.cfg.MaxTrailingLogs >= leaderLast
}

// promotions is how many of stable healthy non-voters to promote when the
// configuration has voters voters and the target is target: as many as
// reach the target, minus one if that would leave an even number of
// voters (two voters tolerate no more failures than one, and need both to
// make progress).
func promotions(voters, stable, target int) int {
	n := min(stable, target-voters)
	if n > 0 && (voters+n)%2 == 0 {
		n--
	}
	return max(n, 0)
}

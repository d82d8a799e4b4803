package gameserver

import (
	"context"
	"maps"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cassandranet/cassnet/api"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/bans"
)

// recheckEvery bounds how long a kick can wait when no state change wakes
// the watcher (a ban that starts in the future, a clock edge).
const recheckEvery = time.Second

// WatchEvents implements GameServerService. It sends the active bans of
// the server's tenant and project at once, then whenever the state
// changes: again the bans if they changed, a kick for each connected
// player whose session is now banned or revoked, and, from the replicated
// record, Allocated when it holds a new allocation id and Drain when the
// server or its node is drained. Node-leaving events come from Leaving.
func (s *Server) WatchEvents(req *cassnetv1.WatchEventsRequest, stream cassnetv1.GameServerService_WatchEventsServer) error {
	ctx := stream.Context()
	p := principal(ctx)
	ch := make(chan *cassnetv1.ServerEvent, 16)
	var proj string
	if err := s.withServer(ctx, req.GetServerId(), func(e *entry) error {
		e.events = append(e.events, ch)
		proj = e.info.ProjectID
		return nil
	}); err != nil {
		return err
	}
	defer s.reg.with(p.Tenant, req.GetServerId(), func(e *entry) {
		e.events = slices.DeleteFunc(e.events, func(c chan *cassnetv1.ServerEvent) bool { return c == ch })
	})

	changed := make(chan uint64, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The index is taken before the first check, so that no change after
	// it goes unnoticed however late the goroutine starts.
	go s.watchState(wctx, s.applied.Index(), changed) // ends with wctx

	var lastBans []*cassnetv1.ActiveBan
	kicked := make(map[string]bool)
	var seen seenRecord
	check := func() error {
		bans := s.activeBans(p.Tenant, proj)
		if lastBans == nil || !slices.EqualFunc(bans, lastBans, sameBan) {
			lastBans = bans
			ev := &cassnetv1.ServerEvent{Event: &cassnetv1.ServerEvent_Bans_{Bans: &cassnetv1.ServerEvent_Bans{Bans: bans}}}
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
		for _, k := range s.kicks(p, req.GetServerId(), kicked) {
			if err := stream.Send(&cassnetv1.ServerEvent{Event: &cassnetv1.ServerEvent_Kick_{Kick: k}}); err != nil {
				return err
			}
		}
		for _, ev := range s.lifecycleEvents(p.Tenant, req.GetServerId(), &seen) {
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
		return nil
	}
	if err := check(); err != nil {
		return err
	}
	tick := time.NewTicker(recheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return status.Error(codes.Unavailable, "the node is stopping")
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case ev := <-ch:
			if err := stream.Send(ev); err != nil {
				return err
			}
		case <-changed:
		case <-tick.C:
		}
		if err := check(); err != nil {
			return err
		}
	}
}

// watchState signals changed after every change of the replicated state
// past idx, until ctx ends.
func (s *Server) watchState(ctx context.Context, idx uint64, changed chan<- uint64) {
	for {
		if err := s.applied.WaitChange(ctx, idx); err != nil {
			return
		}
		idx = s.applied.Index()
		select {
		case changed <- idx:
		default: // a signal is already pending
		}
	}
}

// activeBans is the bans in force for a server of tenant and project:
// tenant-wide ones and the project's (every project's if proj is "").
func (s *Server) activeBans(tenant, proj string) []*cassnetv1.ActiveBan {
	now := s.auth.Now()
	list, _ := s.bans.Bans(tenant, bans.Filter{ActiveAt: &now})
	out := []*cassnetv1.ActiveBan{}
	for _, b := range list {
		if proj != "" && b.ProjectID != "" && b.ProjectID != proj {
			continue
		}
		out = append(out, &cassnetv1.ActiveBan{BanId: b.ID, PlayerId: b.PlayerID, ProjectId: b.ProjectID,
			Reason: b.Reason, ExpiresUnixMs: unixMs(b.ExpiresAt)})
	}
	return out
}

func sameBan(a, b *cassnetv1.ActiveBan) bool {
	return a.BanId == b.BanId && a.ExpiresUnixMs == b.ExpiresUnixMs
}

// kicks returns a kick for each connected player of the server who is
// now banned (tenant-wide or in the session's project) or whose session
// was revoked. kicked remembers who was already told, until they leave.
// Bans are checked directly, not through the session, so that a player
// whose token has expired mid-game is still kicked.
func (s *Server) kicks(p api.Principal, id string, kicked map[string]bool) []*cassnetv1.ServerEvent_Kick {
	var players map[string]conn
	s.reg.with(p.Tenant, id, func(e *entry) { players = maps.Clone(e.players) })
	for player := range kicked {
		if _, ok := players[player]; !ok {
			delete(kicked, player)
		}
	}
	now := s.auth.Now()
	var out []*cassnetv1.ServerEvent_Kick
	for player, c := range players {
		if kicked[player] {
			continue
		}
		k := &cassnetv1.ServerEvent_Kick{PlayerId: player}
		if b, ok := s.bans.ActiveBan(p.Tenant, player, c.project, now); ok {
			k.Reason, k.BanId = "banned", b.ID
		} else if s.auth.CheckSession(p, c.token).Reason == "revoked" {
			k.Reason = "revoked"
		} else {
			continue
		}
		kicked[player] = true
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b *cassnetv1.ServerEvent_Kick) int { return compare(a.PlayerId, b.PlayerId) })
	return out
}

// seenRecord is what one WatchEvents stream has told its server about the
// replicated record.
type seenRecord struct {
	allocation string // the last allocation id announced
	drained    bool   // a drain was announced and still holds
}

// lifecycleEvents compares the server's replicated record with what the
// stream has announced: a new allocation id is an Allocated event (with
// the record's labels and the allocation's annotations), and the server
// becoming draining, or its node unschedulable, is one Drain event.
func (s *Server) lifecycleEvents(tenant, id string, seen *seenRecord) []*cassnetv1.ServerEvent {
	if s.records == nil {
		return nil
	}
	rec, ok := s.records.Server(tenant, id)
	if !ok || rec.Node != s.node {
		return nil
	}
	var out []*cassnetv1.ServerEvent
	if rec.AllocationID != "" && rec.AllocationID != seen.allocation {
		out = append(out, &cassnetv1.ServerEvent{Event: &cassnetv1.ServerEvent_Allocated_{Allocated: &cassnetv1.ServerEvent_Allocated{
			AllocationId: rec.AllocationID, Labels: rec.Labels, Annotations: rec.Annotations}}})
		s.log.Debug("game server allocated", "tenant", tenant, "server", id, "allocation", rec.AllocationID)
		s.reg.with(tenant, id, func(e *entry) { e.announced = rec.AllocationID })
	}
	seen.allocation = rec.AllocationID
	drained := rec.State == "draining" || !s.records.Schedulable(s.node)
	if drained && !seen.drained {
		out = append(out, &cassnetv1.ServerEvent{Event: &cassnetv1.ServerEvent_Drain_{Drain: &cassnetv1.ServerEvent_Drain{}}})
	}
	seen.drained = drained
	return out
}

package main

import (
	"math/rand/v2"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// Reconnect backoff bounds.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// backoff sleeps d with ±20% jitter and returns the next delay, or false
// when the client is shutting down.
func (c *client) backoff(d time.Duration) (time.Duration, bool) {
	j := time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	select {
	case <-c.ctx.Done():
		return d, false
	case <-time.After(j):
	}
	return min(2*d, maxBackoff), true
}

// watch keeps the WatchEvents stream open: it feeds the ban cache and the
// event callback, and after a lost link re-registers the server and its
// players. ready is closed after the first ban set.
func (c *client) watch(ready chan struct{}) {
	defer c.wg.Done()
	delay, first := minBackoff, true
	for {
		if !first {
			if err := c.register(); err == nil {
				c.reconnectPlayers()
			}
		}
		err := c.watchOnce(ready, &delay)
		if c.ctx.Err() != nil {
			return
		}
		if c.linkUp.Swap(false) {
			c.emit(evDisconnected, "", "", "", "")
		}
		c.setErr(stUnavailable, "link to the node lost (%v): reconnecting; cached answers may be stale", err)
		var ok bool
		if delay, ok = c.backoff(delay); !ok {
			return
		}
		first = false
	}
}

// watchOnce runs one WatchEvents stream until it fails.
func (c *client) watchOnce(ready chan struct{}, delay *time.Duration) error {
	stream, err := c.rpc.WatchEvents(c.ctx, &cassnetv1.WatchEventsRequest{ServerId: c.cfg.server})
	if err != nil {
		return err
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			return err
		}
		switch e := ev.GetEvent().(type) {
		case *cassnetv1.ServerEvent_Bans_:
			c.setBans(e.Bans.GetBans())
			*delay = minBackoff
			if !c.linkUp.Swap(true) {
				select {
				case <-ready:
					c.emit(evReconnected, "", "", "", "")
				default:
					close(ready)
				}
			}
		case *cassnetv1.ServerEvent_Kick_:
			c.emit(evKick, e.Kick.GetPlayerId(), e.Kick.GetReason(), e.Kick.GetBanId(), "")
		case *cassnetv1.ServerEvent_Drain_:
			c.emit(evDrain, "", "", "", "")
		case *cassnetv1.ServerEvent_NodeLeaving_:
			c.emit(evNodeLeaving, "", "", "", "")
		case *cassnetv1.ServerEvent_Allocated_:
			a := allocation{id: e.Allocated.GetAllocationId(), annotations: e.Allocated.GetAnnotations()}
			c.mu.Lock()
			c.alloc = a
			c.mu.Unlock()
			c.emit(evAllocated, "", "", "", a.id)
		}
	}
}

// setBans replaces the ban cache with a new immutable map.
func (c *client) setBans(bans []*cassnetv1.ActiveBan) {
	m := make(map[string]int64, len(bans))
	for _, b := range bans {
		exp, seen := m[b.GetPlayerId()]
		switch {
		case !seen, b.GetExpiresUnixMs() == 0:
			m[b.GetPlayerId()] = b.GetExpiresUnixMs()
		case exp != 0 && b.GetExpiresUnixMs() > exp:
			m[b.GetPlayerId()] = b.GetExpiresUnixMs()
		}
	}
	c.bans.Store(&m)
}

// reconnectPlayers records the connected players again on a node that
// may have restarted; a player refused now is kicked.
func (c *client) reconnectPlayers() {
	c.mu.Lock()
	players := make(map[string]string, len(c.players))
	for p, t := range c.players {
		players[p] = t
	}
	c.mu.Unlock()
	for p, tok := range players {
		ctx, cancel := c.call()
		res, err := c.rpc.PlayerConnect(ctx, &cassnetv1.PlayerConnectRequest{ServerId: c.cfg.server, Token: tok})
		cancel()
		if err == nil && (res.GetReason() == "banned" || res.GetReason() == "revoked") {
			c.emit(evKick, p, res.GetReason(), "", "")
		}
	}
}

// emit calls the event callback, if one is set, on this goroutine.
func (c *client) emit(kind int, player, reason, banID, allocation string) {
	if fn := c.onEvent.Load(); fn != nil {
		(*fn)(kind, player, reason, banID, allocation)
	}
}

// health pings the node at the interval it asked for, reopening the
// stream after failures.
func (c *client) health() {
	defer c.wg.Done()
	for c.ctx.Err() == nil {
		interval := time.Duration(c.session.Load().GetHealthIntervalMs()) * time.Millisecond
		if interval <= 0 {
			interval = 2 * time.Second
		}
		if stream, err := c.rpc.Health(c.ctx); err == nil {
			tick := time.NewTicker(interval)
			for err == nil {
				if err = stream.Send(&cassnetv1.HealthPing{ServerId: c.cfg.server}); err != nil {
					break
				}
				select {
				case <-c.ctx.Done():
					err = c.ctx.Err()
				case <-tick.C:
				}
			}
			tick.Stop()
		}
		if _, ok := c.backoff(time.Second); !ok {
			return
		}
	}
}

// subscribe streams a topic into fn until shutdown, resuming after the
// last event seen when the stream breaks.
func (c *client) subscribe(topic string, fn messageFn) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		last, delay := "", minBackoff
		for c.ctx.Err() == nil {
			stream, err := c.rpc.Subscribe(c.ctx, &cassnetv1.SubscribeRequest{Topic: topic, ResumeFrom: last})
			for err == nil {
				var ev *cassnetv1.TopicEvent
				if ev, err = stream.Recv(); err == nil {
					delay, last = minBackoff, ev.GetId()
					if ev.GetKind() == "message" {
						fn(topic, ev.GetId(), ev.GetPayload())
					}
				}
			}
			var ok bool
			if delay, ok = c.backoff(delay); !ok {
				return
			}
		}
	}()
}

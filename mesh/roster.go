package mesh

import (
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// roster is the Mesh's view of the cluster: every member memberlist has
// told it about, plus failed and left members it still remembers.
//
// memberlist v0.6.0 does not expose a member's state (Node.State is never
// filled in; hashicorp/memberlist#266), so the roster rebuilds it:
//
//   - alive: NotifyJoin / NotifyUpdate;
//   - failed or left: NotifyLeave, which memberlist sends for both. A
//     member that broadcast a leave intent first (Leave) is left; any other
//     is failed. An intent that arrives after NotifyLeave turns failed into
//     left;
//   - suspect: this node's own probe of the member failed (memberlist logs
//     "Suspect X has failed" and says nothing else). It ends when a direct
//     probe is acked again, the member is marked failed, or after
//     Timing.suspicionHold. Suspicion gossiped by other nodes is not
//     visible here until it becomes a failure.
//
// Invariants:
//   - mu is a leaf lock: nothing calls memberlist while holding it, because
//     memberlist calls the delegates (which take mu) while holding its own
//     node lock.
//   - every entry's member.Name equals its key, and the local entry is
//     never forgotten.
//   - live is the number of alive or suspect entries, local included.
type roster struct {
	local  string
	log    *slog.Logger
	notify func()

	mu      sync.Mutex
	entries map[string]*entry
	warned  map[string]string // name -> ID already warned about
	live    atomic.Int64
	// suspicions counts this node's failed probes of other members
	// (memberlist's "Suspect X has failed"), false or not.
	suspicions atomic.Uint64
}

type entry struct {
	member    Member
	since     time.Time // last status change
	suspectAt time.Time // when this node last suspected it
	leaving   bool      // a leave intent arrived while it was alive
}

func newRoster(local Member, log *slog.Logger, notify func()) *roster {
	r := &roster{
		local:   local.Name,
		log:     log,
		notify:  notify,
		entries: map[string]*entry{local.Name: {member: local, since: time.Now()}},
		warned:  map[string]string{},
	}
	r.live.Store(1)
	return r
}

// memberOf converts a memberlist node. A node whose meta does not decode
// keeps only its name.
func (r *roster) memberOf(n *memberlist.Node, status Status) Member {
	meta, err := DecodeMeta(n.Meta)
	if err != nil {
		r.log.Debug("mesh: undecodable member meta", "member", n.Name, "err", err)
	}
	meta.Name = n.Name
	return Member{Meta: meta, GossipAddr: n.Address(), Status: status}
}

// join records that memberlist sees n alive (NotifyJoin or NotifyUpdate).
func (r *roster) join(n *memberlist.Node) {
	m := r.memberOf(n, StatusAlive)
	r.mu.Lock()
	e, known := r.entries[n.Name]
	if !known {
		e = &entry{}
		r.entries[n.Name] = e
	}
	prev := e.member.Status
	changed := !known || e.member != m
	e.member = m
	e.leaving = false
	e.suspectAt = time.Time{}
	if prev != StatusAlive || !known {
		e.since = time.Now()
	}
	r.recountLocked()
	r.mu.Unlock()

	switch {
	case !known:
		r.log.Info("mesh: member joined", "member", m.Name, "id", m.ID, "addr", m.GossipAddr)
	case prev == StatusFailed || prev == StatusLeft:
		r.log.Info("mesh: member is back", "member", m.Name, "id", m.ID, "addr", m.GossipAddr, "was", prev)
	}
	if changed {
		r.notify()
	}
}

// down records NotifyLeave: the member failed, or left if it announced it.
func (r *roster) down(n *memberlist.Node) {
	r.mu.Lock()
	e, known := r.entries[n.Name]
	if !known {
		e = &entry{member: r.memberOf(n, StatusFailed)}
		r.entries[n.Name] = e
	}
	status := StatusFailed
	if e.leaving {
		status = StatusLeft
	}
	e.member.Status = status
	e.since = time.Now()
	e.suspectAt = time.Time{}
	m := e.member
	r.recountLocked()
	r.mu.Unlock()

	if status == StatusLeft {
		r.log.Info("mesh: member left", "member", m.Name, "id", m.ID)
	} else {
		r.log.Warn("mesh: member failed", "member", m.Name, "id", m.ID, "addr", m.GossipAddr)
	}
	r.notify()
}

// leaveIntent records that name (with ID id) announced it is leaving. It
// reports whether this was news, in which case the intent is re-gossiped.
func (r *roster) leaveIntent(name, id string) bool {
	r.mu.Lock()
	e, ok := r.entries[name]
	if !ok || (id != "" && e.member.ID != "" && id != e.member.ID) {
		r.mu.Unlock()
		return false
	}
	news, nowLeft := false, false
	switch e.member.Status {
	case StatusAlive, StatusSuspect:
		news = !e.leaving
		e.leaving = true
	case StatusFailed:
		// The intent lost the race with the dead message.
		e.member.Status = StatusLeft
		news, nowLeft = true, true
	}
	r.mu.Unlock()
	if nowLeft {
		r.log.Info("mesh: member left", "member", name, "id", id)
		r.notify()
	}
	return news
}

// markLeaving is leaveIntent for the local node.
func (r *roster) markLeaving() {
	r.mu.Lock()
	r.entries[r.local].leaving = true
	r.mu.Unlock()
}

// setLocalMeta records the local node's meta before Start (afterwards
// memberlist reports it through NotifyUpdate).
func (r *roster) setLocalMeta(meta Meta) {
	r.mu.Lock()
	r.entries[r.local].member.Meta = meta
	r.mu.Unlock()
	r.notify()
}

const (
	suspectLogPrefix = "Suspect "
	suspectLogSuffix = " has failed, no acks received"
)

// suspectFromLog looks for memberlist's "Suspect X has failed, no acks
// received", the only sign that this node's probe of X failed.
func (r *roster) suspectFromLog(msg string) {
	name, ok := strings.CutPrefix(msg, suspectLogPrefix)
	if !ok {
		return
	}
	if name, ok = strings.CutSuffix(name, suspectLogSuffix); !ok {
		return
	}
	r.suspicions.Add(1)
	r.mu.Lock()
	e, ok := r.entries[name]
	changed := false
	if ok && (e.member.Status == StatusAlive || e.member.Status == StatusSuspect) && name != r.local {
		changed = e.member.Status == StatusAlive
		e.member.Status = StatusSuspect
		e.suspectAt = time.Now()
		if changed {
			e.since = e.suspectAt
		}
	}
	r.mu.Unlock()
	if changed {
		r.log.Info("mesh: member suspect", "member", name)
		r.notify()
	}
}

// ackedBy records a direct probe ack from name, which ends a suspicion.
func (r *roster) ackedBy(name string) {
	r.mu.Lock()
	e, ok := r.entries[name]
	changed := ok && e.member.Status == StatusSuspect
	if changed {
		e.member.Status = StatusAlive
		e.suspectAt = time.Time{}
		e.since = time.Now()
	}
	r.mu.Unlock()
	if changed {
		r.notify()
	}
}

// expire ends suspicions older than hold and forgets failed and left
// members that went down more than forget ago.
func (r *roster) expire(now time.Time, hold, forget time.Duration) {
	changed := false
	r.mu.Lock()
	for name, e := range r.entries {
		switch e.member.Status {
		case StatusSuspect:
			if now.Sub(e.suspectAt) > hold {
				e.member.Status = StatusAlive
				e.suspectAt = time.Time{}
				e.since = now
				changed = true
			}
		case StatusFailed, StatusLeft:
			if name != r.local && now.Sub(e.since) > forget {
				r.log.Info("mesh: forgetting member", "member", name, "id", e.member.ID, "status", e.member.Status)
				delete(r.entries, name)
				delete(r.warned, name)
				changed = true
			}
		}
	}
	r.mu.Unlock()
	if changed {
		r.notify()
	}
}

// checkAlive warns, once per name and ID, when an alive message carries a
// name this node knows under another ID. It only logs.
func (r *roster) checkAlive(n *memberlist.Node) {
	meta, err := DecodeMeta(n.Meta)
	if err != nil || meta.ID == "" {
		return
	}
	r.mu.Lock()
	e, ok := r.entries[n.Name]
	if !ok || e.member.ID == "" || e.member.ID == meta.ID || r.warned[n.Name] == meta.ID {
		r.mu.Unlock()
		return
	}
	r.warned[n.Name] = meta.ID
	known, status := e.member.ID, e.member.Status
	r.mu.Unlock()

	switch {
	case n.Name == r.local:
		r.log.Warn("mesh: another node is using this node's name",
			"name", n.Name, "our_id", known, "their_id", meta.ID, "their_addr", n.Address())
	case status == StatusFailed || status == StatusLeft:
		r.log.Info("mesh: name reused by a new node ID", "name", n.Name, "old_id", known, "new_id", meta.ID)
	default:
		r.log.Warn("mesh: node name conflict: same name, different IDs",
			"name", n.Name, "known_id", known, "other_id", meta.ID, "other_addr", n.Address())
	}
}

func (r *roster) recountLocked() {
	var n int64
	for _, e := range r.entries {
		if e.member.Status == StatusAlive || e.member.Status == StatusSuspect {
			n++
		}
	}
	r.live.Store(n)
}

func (r *roster) members() []Member {
	r.mu.Lock()
	out := make([]Member, 0, len(r.entries))
	for _, e := range r.entries {
		out = append(out, e.member)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *roster) get(name string) (Member, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[name]
	if !ok {
		return Member{}, false
	}
	return e.member, true
}

// liveOthers counts alive or suspect members other than this node.
func (r *roster) liveOthers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for name, e := range r.entries {
		if name != r.local && (e.member.Status == StatusAlive || e.member.Status == StatusSuspect) {
			n++
		}
	}
	return n
}

// addrs returns the sorted gossip addresses of members other than this
// node whose status is one of statuses.
func (r *roster) addrs(statuses ...Status) []string {
	r.mu.Lock()
	var out []string
	for name, e := range r.entries {
		if name == r.local || e.member.GossipAddr == "" {
			continue
		}
		for _, s := range statuses {
			if e.member.Status == s {
				out = append(out, e.member.GossipAddr)
				break
			}
		}
	}
	r.mu.Unlock()
	sort.Strings(out)
	return out
}

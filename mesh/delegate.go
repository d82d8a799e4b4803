package mesh

import (
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegates implements memberlist's Delegate, EventDelegate,
// AliveDelegate, ConflictDelegate and PingDelegate for one Mesh.
//
// Concurrency contract: memberlist calls these methods from its own
// goroutines, the event, alive and conflict callbacks while holding its
// node lock, and GetBroadcasts on the gossip path. So every method is
// quick, never blocks, never calls back into memberlist, and touches only
// the roster (a leaf lock), the encoded meta (atomic) and the broadcast
// queue (its own lock).
type delegates struct {
	roster *roster
	meta   *atomic.Pointer[[]byte]
	queue  *memberlist.TransmitLimitedQueue
}

var (
	_ memberlist.Delegate         = (*delegates)(nil)
	_ memberlist.EventDelegate    = (*delegates)(nil)
	_ memberlist.AliveDelegate    = (*delegates)(nil)
	_ memberlist.ConflictDelegate = (*delegates)(nil)
	_ memberlist.PingDelegate     = (*delegates)(nil)
)

// NodeMeta returns the local node's encoded Meta. EncodeMeta has already
// checked it against memberlist.MetaMaxSize (memberlist panics otherwise).
func (d *delegates) NodeMeta(limit int) []byte {
	b := *d.meta.Load()
	if len(b) > limit {
		return nil
	}
	return b
}

// NotifyMsg handles mesh's own gossip messages (leave intents).
func (d *delegates) NotifyMsg(b []byte) {
	if len(b) == 0 || b[0] != msgLeaveIntent {
		return
	}
	var in leaveIntent
	if err := json.Unmarshal(b[1:], &in); err != nil || in.Name == "" {
		return
	}
	if d.roster.leaveIntent(in.Name, in.ID) {
		d.queue.QueueBroadcast(newLeaveBroadcast(in))
	}
}

// GetBroadcasts hands queued mesh messages to memberlist's gossip.
func (d *delegates) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

// LocalState is unused: mesh keeps no state beyond memberlist's.
func (d *delegates) LocalState(join bool) []byte { return nil }

// MergeRemoteState is unused (see LocalState).
func (d *delegates) MergeRemoteState(buf []byte, join bool) {}

// NotifyJoin is called when a node becomes alive, including this one.
func (d *delegates) NotifyJoin(n *memberlist.Node) { d.roster.join(n) }

// NotifyLeave is called when a node is marked dead or left.
func (d *delegates) NotifyLeave(n *memberlist.Node) { d.roster.down(n) }

// NotifyUpdate is called when an alive node's meta or address changes.
func (d *delegates) NotifyUpdate(n *memberlist.Node) { d.roster.join(n) }

// NotifyAlive looks at every alive message for name/ID conflicts. It
// never rejects one: memberlist's incarnation rules settle who owns a name,
// mesh only reports the conflict.
func (d *delegates) NotifyAlive(n *memberlist.Node) error {
	d.roster.checkAlive(n)
	return nil
}

// NotifyConflict is called when a node claims a live node's name from
// another address. memberlist keeps the existing node.
func (d *delegates) NotifyConflict(existing, other *memberlist.Node) {
	ex, _ := DecodeMeta(existing.Meta)
	ot, _ := DecodeMeta(other.Meta)
	d.roster.log.Warn("mesh: node name conflict: same name, different address",
		"name", existing.Name, "existing_addr", existing.Address(), "existing_id", ex.ID,
		"other_addr", other.Address(), "other_id", ot.ID)
}

// AckPayload adds nothing to probe acks.
func (d *delegates) AckPayload() []byte { return nil }

// NotifyPingComplete records that other answered a direct probe.
func (d *delegates) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	d.roster.ackedBy(other.Name)
}

// Message types of mesh's own gossip, the first byte of a user message.
const msgLeaveIntent byte = 1

// leaveIntent is gossiped by a node just before it leaves, so that the
// others record it as left rather than failed (memberlist's NotifyLeave
// does not say which). Receivers re-gossip intents that are news to them.
type leaveIntent struct {
	Name string `json:"n"`
	ID   string `json:"i"`
}

// leaveBroadcast is a leaveIntent queued on a TransmitLimitedQueue.
type leaveBroadcast struct {
	name string
	msg  []byte
}

func newLeaveBroadcast(in leaveIntent) *leaveBroadcast {
	body, _ := json.Marshal(in) // two strings: cannot fail
	return &leaveBroadcast{name: in.Name, msg: append([]byte{msgLeaveIntent}, body...)}
}

// Invalidates reports whether other is an older intent of the same node.
func (b *leaveBroadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(*leaveBroadcast)
	return ok && o.name == b.name
}

// Name lets the queue invalidate by name cheaply (memberlist.NamedBroadcast).
func (b *leaveBroadcast) Name() string { return "leave:" + b.name }

// Message returns the encoded intent.
func (b *leaveBroadcast) Message() []byte { return b.msg }

// Finished is called when the intent has been sent often enough.
func (b *leaveBroadcast) Finished() {}

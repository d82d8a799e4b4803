package api

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/mesh"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state"
)

// fakeClock is a controllable clock shared by the fake leader (which
// stamps commands) and the server (which decides whether bans are active).
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeStore is a single-node Store backed by the real domains and
// consensus.FSM: commands are encoded, stamped and applied exactly as a
// leader would, just without Raft. It can be told to fail.
type fakeStore struct {
	state *state.Domains
	fsm   *consensus.FSM
	clock *fakeClock

	mu        sync.Mutex
	index     uint64
	applyErr  error // returned by Apply instead of applying
	readErr   error // returned by Read
	readPanic bool  // Read panics, to exercise the recovery middleware
	modes     []consensus.Consistency
	info      consensus.RaftInfo
	ready     bool
	hashCalls atomic.Int64 // StateHash calls
}

var _ Store = (*fakeStore)(nil)

func newFakeStore(clock *fakeClock) *fakeStore {
	st := state.New()
	fsm, err := consensus.NewFSM(st.Modules(), nil)
	if err != nil {
		panic(err)
	}
	f := &fakeStore{
		state: st,
		fsm:   fsm,
		clock: clock,
		ready: true,
		info: consensus.RaftInfo{
			ID: "node-a", State: "Leader", LeaderID: "node-a", Term: 3,
			Servers: []consensus.ServerConfig{
				{ID: "node-a", Address: "10.0.0.1:7001", Suffrage: "voter", Leader: true},
				{ID: "node-b", Address: "10.0.0.2:7001", Suffrage: "voter"},
				{ID: "node-c", Address: "10.0.0.3:7001", Suffrage: "nonvoter"},
			},
		},
	}
	// Every node of a fresh cluster supports the domain-state release, so
	// autopilot would raise the state version at once.
	f.mustApply(&cassnetv1.Command{Op: &cassnetv1.Command_SetStateVersion{SetStateVersion: &cassnetv1.SetStateVersion{Version: consensus.SupportedStateVersion}}})
	return f
}

// Apply validates, stamps, encodes and applies cmd at the next index.
func (f *fakeStore) Apply(ctx context.Context, cmd *cassnetv1.Command) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.applyErr != nil {
		return 0, f.applyErr
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := f.fsm.ValidateCommand(cmd); err != nil {
		return 0, err
	}
	stamped := proto.Clone(cmd).(*cassnetv1.Command)
	stamped.TimeUnixNano = f.clock.Now().UnixNano()
	data, err := consensus.EncodeCommand(stamped)
	if err != nil {
		return 0, err
	}
	f.index++
	res := f.fsm.Apply(&raft.Log{Index: f.index, Term: 3, Type: raft.LogCommand, Data: data}).(*consensus.ApplyResult)
	return res.Index, res.Err
}

// mustApply applies cmd as actor, for test setup.
func (f *fakeStore) mustApply(cmd *cassnetv1.Command) uint64 {
	cmd.Version = consensus.CommandVersion
	if cmd.Actor == "" {
		cmd.Actor = "test"
	}
	idx, err := f.Apply(context.Background(), cmd)
	if err != nil {
		panic(err)
	}
	return idx
}

func (f *fakeStore) Read(ctx context.Context, c consensus.Consistency) (consensus.ReadMeta, error) {
	f.mu.Lock()
	f.modes = append(f.modes, c)
	err, doPanic := f.readErr, f.readPanic
	f.mu.Unlock()
	if doPanic {
		panic("fake store: read exploded")
	}
	if err != nil {
		return consensus.ReadMeta{}, err
	}
	return consensus.ReadMeta{Index: f.fsm.Applied().Index(), KnownLeader: true, LastContact: 1500 * time.Millisecond}, nil
}

func (f *fakeStore) Applied() *consensus.Applied { return f.fsm.Applied() }

func (f *fakeStore) RaftInfo() consensus.RaftInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := f.info
	info.AppliedIndex = f.fsm.Applied().Index()
	info.LastIndex, info.CommitIndex = f.index, f.index
	return info
}

func (f *fakeStore) StateHash() string {
	f.hashCalls.Add(1)
	return f.fsm.Hash()
}

func (f *fakeStore) RemovePeer(_ context.Context, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, srv := range f.info.Servers {
		if srv.ID == id || srv.Address == id {
			f.info.Servers = append(f.info.Servers[:i:i], f.info.Servers[i+1:]...)
			return srv.ID, nil
		}
	}
	return "", consensus.ErrNotFound
}

func (f *fakeStore) IsLeader() bool { return true }

func (f *fakeStore) SaveSnapshot(ctx context.Context, w io.Writer, meta consensus.ArchiveMeta) (consensus.ArchiveMeta, error) {
	if _, err := f.Read(ctx, consensus.Consistent); err != nil {
		return meta, err
	}
	return f.fsm.WriteArchive(w, meta)
}

// RestoreSnapshot checks as consensus.Store does, then restores into the
// one FSM.
func (f *fakeStore) RestoreSnapshot(_ context.Context, a *consensus.Archive, opts consensus.RestoreOptions) error {
	if a.Meta.ClusterID != opts.ClusterID && !opts.Force {
		return consensus.NewError(consensus.ErrConflict, "the snapshot is of cluster %q", a.Meta.ClusterID)
	}
	if _, _, err := consensus.InspectArchive(a, state.New().Modules()); err != nil {
		return consensus.NewError(consensus.ErrInvalid, "%v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fsm.Restore(io.NopCloser(bytes.NewReader(a.Body)))
}

func (f *fakeStore) Autopilot() consensus.AutopilotConfig {
	base := consensus.AutopilotConfig{Voters: 3, StabilizationTime: 10 * time.Second, DeadServerGrace: 30 * time.Second}
	return f.state.Settings.Get().Autopilot().Apply(base)
}

func (f *fakeStore) Ready() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready
}

func (f *fakeStore) set(fn func(f *fakeStore)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// lastMode is the consistency of the most recent Read.
func (f *fakeStore) lastMode() (consensus.Consistency, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.modes) == 0 {
		return 0, false
	}
	return f.modes[len(f.modes)-1], true
}

type fakeMembers struct{ list []mesh.Member }

func (m *fakeMembers) Members() []mesh.Member { return m.list }

type fakeAgent struct {
	mu     sync.Mutex
	leaves int
	err    error
}

func (a *fakeAgent) Leave(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.leaves++
	return a.err
}

// fakeGameServers holds one server of acme's project rocket and one of
// bravo's, on a node named "a".
type fakeGameServers struct{}

func (fakeGameServers) List(_ context.Context, _, tenant string, _ bool) GameServerList {
	var out GameServerList
	for _, g := range []GameServer{
		{ID: "gs-1", Tenant: "acme", ProjectID: "rocket", Node: "a", State: "ready", Players: []string{}},
		{ID: "gs-2", Tenant: "bravo", Node: "a", State: "ready", Players: []string{}},
	} {
		if g.Tenant == tenant {
			out.Servers = append(out.Servers, g)
		}
	}
	return out
}

func (f fakeGameServers) Drain(ctx context.Context, cred, tenant, id string, local bool) bool {
	for _, g := range f.List(ctx, cred, tenant, local).Servers {
		if g.ID == id {
			return true
		}
	}
	return false
}

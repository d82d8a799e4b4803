package gameserver

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/mesh"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state"
)

// fakeStore is a single-node api.Store over the real domains and
// FSM: commands are applied as a leader would, without Raft.
type fakeStore struct {
	state *state.Domains
	fsm   *consensus.FSM
	mu    sync.Mutex
	index uint64
}

func newFakeStore() *fakeStore {
	st := state.New()
	fsm, err := consensus.NewFSM(st.Modules(), nil)
	if err != nil {
		panic(err)
	}
	return &fakeStore{state: st, fsm: fsm}
}

func (f *fakeStore) Apply(ctx context.Context, cmd *cassnetv1.Command) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fsm.ValidateCommand(cmd); err != nil {
		return 0, err
	}
	stamped := proto.Clone(cmd).(*cassnetv1.Command)
	stamped.TimeUnixNano = time.Now().UnixNano()
	data, err := consensus.EncodeCommand(stamped)
	if err != nil {
		return 0, err
	}
	f.index++
	res := f.fsm.Apply(&raft.Log{Index: f.index, Term: 1, Type: raft.LogCommand, Data: data}).(*consensus.ApplyResult)
	return res.Index, res.Err
}

func (f *fakeStore) Read(context.Context, consensus.Consistency) (consensus.ReadMeta, error) {
	return consensus.ReadMeta{Index: f.fsm.Applied().Index(), KnownLeader: true}, nil
}
func (f *fakeStore) Applied() *consensus.Applied { return f.fsm.Applied() }
func (f *fakeStore) RaftInfo() consensus.RaftInfo {
	return consensus.RaftInfo{ID: "node-a", State: "Leader"}
}
func (f *fakeStore) StateHash() string { return "" }
func (f *fakeStore) Ready() bool       { return true }
func (f *fakeStore) RemovePeer(context.Context, string) (string, error) {
	return "", consensus.ErrNotFound
}
func (f *fakeStore) SaveSnapshot(_ context.Context, w io.Writer, m consensus.ArchiveMeta) (consensus.ArchiveMeta, error) {
	return f.fsm.WriteArchive(w, m)
}
func (f *fakeStore) RestoreSnapshot(context.Context, *consensus.Archive, consensus.RestoreOptions) error {
	return consensus.ErrNoLeader
}
func (f *fakeStore) Autopilot() consensus.AutopilotConfig { return consensus.AutopilotConfig{} }
func (f *fakeStore) Members() []mesh.Member               { return nil }
func (f *fakeStore) Leave(context.Context) error          { return nil }

// memTopics is an in-memory api.Topics: every publish reaches every open
// subscription of the same tenant and topic.
type memTopics struct {
	mu   sync.Mutex
	seq  uint64
	subs map[string][]chan api.TopicEvent
}

func newMemTopics() *memTopics { return &memTopics{subs: make(map[string][]chan api.TopicEvent)} }

func (m *memTopics) Publish(_ context.Context, tenant, topic, ct string, payload []byte) (api.PublishedMessage, error) {
	if len(payload) > m.MaxMessageSize() {
		return api.PublishedMessage{}, fmt.Errorf("%w: %d bytes", api.ErrTopicTooLarge, len(payload))
	}
	if topic == "" {
		return api.PublishedMessage{}, fmt.Errorf("%w: topic", api.ErrTopicInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	id := fmt.Sprintf("node-a:1:%d", m.seq)
	for _, ch := range m.subs[tenant+"/"+topic] {
		ch <- api.TopicEvent{Kind: "message", ID: id, Seq: m.seq, ContentType: ct, Payload: payload, Published: time.Now()}
	}
	return api.PublishedMessage{ID: id, Seq: m.seq, Origin: "node-a"}, nil
}

func (m *memTopics) Subscribe(_ context.Context, tenant, topic, _ string) (api.TopicStream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch := make(chan api.TopicEvent, 64)
	m.subs[tenant+"/"+topic] = append(m.subs[tenant+"/"+topic], ch)
	return memStream(ch), nil
}

func (m *memTopics) Peers() []api.TopicPeer { return nil }
func (m *memTopics) MaxMessageSize() int    { return 1024 }

type memStream chan api.TopicEvent

func (s memStream) Next(ctx context.Context) (api.TopicEvent, error) {
	select {
	case ev := <-s:
		return ev, nil
	case <-ctx.Done():
		return api.TopicEvent{}, ctx.Err()
	}
}
func (s memStream) Ready() bool { return len(s) > 0 }
func (s memStream) Close()      {}

// IsLeader implements Proposer: the fake is always the leader.
func (f *fakeStore) IsLeader() bool { return true }

package webhook_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state"
)

// fsmStore is a Proposer over an in-process FSM: Apply stamps the time,
// appends and applies at once, as a one-node Raft would.
type fsmStore struct {
	t      testing.TB
	mu     sync.Mutex
	fsm    *consensus.FSM
	d      *state.Domains
	index  uint64
	leader atomic.Bool
	now    func() time.Time
	// fail, when set, fails every Apply of a RecordWebhookDeliveries.
	failRecords atomic.Bool
	records     atomic.Int64
}

func newStore(t testing.TB) *fsmStore {
	t.Helper()
	d := state.New()
	fsm, err := consensus.NewFSM(d.Modules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &fsmStore{t: t, fsm: fsm, d: d, now: time.Now}
	s.leader.Store(true)
	s.must(&cassnetv1.Command{Op: &cassnetv1.Command_SetStateVersion{SetStateVersion: &cassnetv1.SetStateVersion{Version: 3}}},
		&cassnetv1.Command{Op: &cassnetv1.Command_CreateTenant{CreateTenant: &cassnetv1.CreateTenant{Name: "acme"}}})
	return s
}

func (s *fsmStore) IsLeader() bool { return s.leader.Load() }

func (s *fsmStore) Apply(_ context.Context, cmd *cassnetv1.Command) (uint64, error) {
	if cmd.GetRecordWebhookDeliveries() != nil {
		if s.failRecords.Load() {
			return 0, consensus.NewError(consensus.ErrNoLeader, "test: no leader")
		}
		s.records.Add(1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index++
	cmd.Version = consensus.CommandVersion
	if cmd.Actor == "" {
		cmd.Actor = "op:test"
	}
	cmd.TimeUnixNano = s.now().UnixNano()
	data, err := consensus.EncodeCommand(cmd)
	if err != nil {
		return 0, err
	}
	res := s.fsm.Apply(&raft.Log{Index: s.index, Term: 1, Type: raft.LogCommand, Data: data}).(*consensus.ApplyResult)
	return s.index, res.Err
}

func (s *fsmStore) must(cmds ...*cassnetv1.Command) {
	s.t.Helper()
	for _, c := range cmds {
		if _, err := s.Apply(context.Background(), c); err != nil {
			s.t.Fatalf("apply %v: %v", c, err)
		}
	}
}

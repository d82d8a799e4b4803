package plugins_test

// The harness is state/internal/statetest's; these names keep the tests
// of this package reading as before.

import (
	"testing"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/internal/statetest"
)

var testEpoch = statetest.Epoch

type harness struct{ *statetest.Harness }

func newHarnessOver(t testing.TB, modules []consensus.Module) *harness {
	t.Helper()
	return &harness{statetest.New(t, modules)}
}

func (h *harness) applyRaw(data []byte) *consensus.ApplyResult         { return h.ApplyRaw(data) }
func (h *harness) apply(cmd *cassnetv1.Command) *consensus.ApplyResult { return h.Apply(cmd) }
func (h *harness) mustApply(cmds ...*cassnetv1.Command)                { h.MustApply(cmds...) }
func (h *harness) freshHash() string                                   { return h.FreshHash() }

var (
	persist         = statetest.Persist
	persistSnap     = statetest.PersistSnap
	restore         = statetest.Restore
	newCmd          = statetest.NewCmd
	createTenant    = statetest.CreateTenant
	setStateVersion = statetest.SetStateVersion
	with            = statetest.With
)

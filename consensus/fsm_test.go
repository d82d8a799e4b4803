package consensus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// TestFSMApplyEnvelope checks the envelope, routing and the cross-module
// steps of accepted and rejected entries. A rejected entry advances the
// index and changes no module; an accepted one is committed in every
// module it touched, pruned and handed to the event sinks.
func TestFSMApplyEnvelope(t *testing.T) {
	tests := []struct {
		name    string
		cmd     *cassnetv1.Command
		raw     []byte // applied instead of cmd when set
		wantErr error
		msg     string // the error names this
		// for accepted commands: the event gamma records
		event string
		check func(t *testing.T, h *harness)
	}{
		{name: "accepted", cmd: createTenant("new"), event: "op:alice|tenant.create|new|new|",
			check: func(t *testing.T, h *harness) {
				if v, ok := h.alpha.get("t/new"); !ok || v != "op:alice" {
					t.Errorf("alpha t/new = %q, %v", v, ok)
				}
			}},
		{name: "event keeps its own actor", cmd: deleteTenant("other"), event: "someone-else|tenant.delete|other|other|"},
		{name: "handler conflict", cmd: createTenant("acme"), wantErr: ErrConflict, msg: "already exists"},
		{name: "handler not found", cmd: deleteTenant("nope"), wantErr: ErrNotFound},
		{name: "handler error after staging in two modules", cmd: createProject("acme", "fail"), wantErr: ErrConflict},
		{name: "handler panic", cmd: createProject("acme", "panic"), wantErr: ErrInvalid, msg: "internal error applying alpha"},
		{name: "op field invalid", cmd: createTenant("Acme"), wantErr: ErrInvalid, msg: "name"},
		{name: "op below its state version", cmd: createBan("b1"), wantErr: ErrStateVersion, msg: "state version 2"},
		{name: "op no module handles", cmd: revokeBan("acme", "b1"), wantErr: ErrInvalid, msg: "RevokeBan is not handled"},
		{name: "version 0", cmd: with(createTenant("new"), func(c *cassnetv1.Command) { c.Version = 0 }), wantErr: ErrInvalid, msg: "version"},
		{name: "version 2", cmd: with(createTenant("new"), func(c *cassnetv1.Command) { c.Version = 2 }), wantErr: ErrInvalid, msg: "version"},
		{name: "no op", cmd: newCmd(), wantErr: ErrInvalid, msg: "op"},
		{name: "no leader time", cmd: with(createTenant("new"), func(c *cassnetv1.Command) { c.TimeUnixNano = -1 }), wantErr: ErrInvalid, msg: "time_unix_nano"},
		{name: "actor with control char", cmd: with(createTenant("new"), func(c *cassnetv1.Command) { c.Actor = "a\x1b[31m" }), wantErr: ErrInvalid, msg: "actor"},
		{name: "undecodable", raw: []byte{0xff, 0xff, 0xff}, wantErr: ErrInvalid, msg: "decode"},
		// Field 17 is an operation this node does not know yet.
		{name: "unknown op", raw: []byte{0x08, 0x01, 0x10, 0x01, 0x8a, 0x01, 0x00}, wantErr: ErrInvalid, msg: "op"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			baseState(h)
			before := h.fsm.Hash()
			alpha, beta, gamma := *h.alpha.cur.Load(), *h.beta.cur.Load(), *h.gamma.cur.Load()
			var res *ApplyResult
			if tt.raw != nil {
				res = h.applyRaw(tt.raw)
			} else {
				res = h.apply(tt.cmd)
			}
			if got := h.fsm.Applied().Index(); got != h.index {
				t.Fatalf("Index = %d, want %d", got, h.index)
			}
			if tt.wantErr != nil {
				if !errors.Is(res.Err, tt.wantErr) || !strings.Contains(res.Err.Error(), tt.msg) {
					t.Fatalf("Err = %v, want %v naming %q", res.Err, tt.wantErr, tt.msg)
				}
				if after := h.fsm.Hash(); after != before {
					t.Fatal("rejected command changed the hash")
				}
				// Each module still holds the very map it held.
				if h.alpha.len() != len(alpha) || h.beta.len() != len(beta) || h.gamma.len() != len(gamma) {
					t.Fatal("rejected command changed a module")
				}
				if v, _ := h.beta.get("pruned_at"); v != beta["pruned_at"] {
					t.Fatal("a rejected command ran the pruners")
				}
				return
			}
			if res.Err != nil {
				t.Fatalf("Err = %v", res.Err)
			}
			if h.fsm.Hash() == before {
				t.Fatal("accepted command did not change the hash")
			}
			if got, _ := h.gamma.get(eventKey(h.index, 0)); got != tt.event {
				t.Fatalf("event = %q, want %q", got, tt.event)
			}
			if _, ok := h.gamma.get(eventKey(h.index, 1)); ok {
				t.Fatal("more than one event recorded")
			}
			if got, want := mustGet(t, h.beta.fakeModule, "pruned_at"), h.now.Format(time.RFC3339Nano); got != want {
				t.Fatalf("pruned_at = %q, want the leader time %q", got, want)
			}
			if tt.check != nil {
				tt.check(t, h)
			}
		})
	}
}

func eventKey(index uint64, i int) string { return fmt.Sprintf("e/%d/%d", index, i) }

func mustGet(t *testing.T, m *fakeModule, key string) string {
	t.Helper()
	v, ok := m.get(key)
	if !ok {
		t.Fatalf("%s: no key %q", m.name, key)
	}
	return v
}

// TestHandlerErrorLeavesEveryModuleUnchanged stages changes in two modules
// and then fails (or panics): neither module may see them, and the next
// accepted command must not pick them up either.
func TestHandlerErrorLeavesEveryModuleUnchanged(t *testing.T) {
	for _, name := range []string{"fail", "panic"} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			baseState(h)
			before := h.fsm.Hash()
			if res := h.apply(createProject("acme", name)); res.Err == nil {
				t.Fatal("accepted")
			}
			if h.fsm.Hash() != before {
				t.Fatal("hash changed")
			}
			if _, ok := h.alpha.get("p/acme/" + name); ok {
				t.Error("alpha kept the failed handler's change")
			}
			if _, ok := h.beta.get("acme/" + name); ok {
				t.Error("beta kept the failed handler's change")
			}
			h.mustApply(createTenant("next"))
			if _, ok := h.beta.get("acme/" + name); ok {
				t.Error("the next entry committed the failed handler's change")
			}
		})
	}
}

func TestDropTenantReachesEveryDropperInTheSameEntry(t *testing.T) {
	h := newHarness(t)
	baseState(h)
	h.mustApply(deleteTenant("acme"))
	if _, ok := h.beta.get("acme/g"); ok {
		t.Error("beta kept the deleted tenant's data")
	}
	if _, ok := h.beta.get("other/g"); !ok {
		t.Error("beta dropped another tenant's data")
	}
	if _, ok := h.alpha.get("p/acme/g"); !ok {
		t.Error("alpha's own data is alpha's business, not DropTenant's")
	}
}

func TestFSMApplyLogsMalformedEntry(t *testing.T) {
	var buf bytes.Buffer
	fk := newFakes(t)
	f, err := NewFSM([]Module{fk.alpha}, slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	c := createTenant("Secret-ABAB") // invalid name
	c.TimeUnixNano = testEpoch.UnixNano()
	data, _ := EncodeCommand(c)
	res := f.Apply(&raft.Log{Index: 7, Data: data}).(*ApplyResult)
	if !errors.Is(res.Err, ErrInvalid) || res.Index != 7 || f.Applied().Index() != 7 {
		t.Fatalf("res = %+v, index %d", res, f.Applied().Index())
	}
	out := buf.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "index=7") {
		t.Errorf("log = %q", out)
	}
	if strings.Contains(out, "Secret-ABAB") {
		t.Errorf("log leaks the payload: %q", out)
	}
}

func TestFSMApplyLogsPanic(t *testing.T) {
	var buf bytes.Buffer
	fk := newFakes(t)
	f, err := NewFSM([]Module{fk.alpha, fk.beta}, slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	c := createProject("acme", "panic")
	c.TimeUnixNano = testEpoch.UnixNano()
	data, _ := EncodeCommand(c)
	res := f.Apply(&raft.Log{Index: 3, Data: data}).(*ApplyResult)
	if !errors.Is(res.Err, ErrInvalid) || f.Applied().Index() != 3 {
		t.Fatalf("res = %+v", res)
	}
	if out := buf.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "handler bug") {
		t.Errorf("log = %q", out)
	}
}

func TestNewFSMRefusesBadModules(t *testing.T) {
	tests := []struct {
		name    string
		modules []Module
	}{
		{"duplicate name", []Module{newFake("a", nil), newFake("a", nil)}},
		{"empty name", []Module{newFake("", nil)}},
		{"the engine's name", []Module{newFake("engine", nil)}},
		{"nil module", []Module{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewFSM(tt.modules, nil); err == nil {
				t.Fatal("NewFSM accepted")
			}
		})
	}
}

func TestHandleRefusesProgrammingErrors(t *testing.T) {
	noop := Handler[*cassnetv1.CreateTenant]{
		Validate: func(*cassnetv1.CreateTenant) error { return nil },
		Apply:    func(*Tx, *cassnetv1.CreateTenant) error { return nil },
	}
	tests := []struct {
		name     string
		register func(r *Router, m Module)
	}{
		{"registered twice", func(r *Router, m Module) { Handle(r, m, noop); Handle(r, m, noop) }},
		{"not an operation of Command", func(r *Router, m Module) {
			Handle(r, m, Handler[*cassnetv1.KeyUse]{
				Validate: func(*cassnetv1.KeyUse) error { return nil },
				Apply:    func(*Tx, *cassnetv1.KeyUse) error { return nil },
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Handle did not panic")
				}
			}()
			tt.register(newRouter(), newFake("x", nil))
		})
	}
}

func TestSetStateVersion(t *testing.T) {
	h := newHarness(t)
	baseState(h)
	before := h.fsm.Hash()
	for _, tc := range []struct {
		cmd  *cassnetv1.Command
		want error
	}{
		{setStateVersion(1), ErrInvalid},
		{setStateVersion(SupportedStateVersion + 1), ErrInvalid},
		{createBan("b1"), ErrStateVersion}, // needs version 2
	} {
		if res := h.apply(tc.cmd); !errors.Is(res.Err, tc.want) {
			t.Errorf("%v: %v, want %v", tc.cmd.GetOp(), res.Err, tc.want)
		}
	}
	if got := h.fsm.engine.committed(); got != StateVersionInitial {
		t.Fatalf("state version %d, want %d", got, StateVersionInitial)
	}
	h.mustApply(setStateVersion(StateVersionDomains))
	if got := h.fsm.engine.committed(); got != StateVersionDomains {
		t.Fatalf("state version %d, want %d", got, StateVersionDomains)
	}
	if _, ok := h.gamma.get(eventKey(h.index, 0)); ok {
		t.Error("SetStateVersion emitted an event")
	}
	if h.fsm.Hash() == before {
		t.Error("an accepted SetStateVersion ran no pruner") // beta records pruned_at
	}
	if res := h.apply(setStateVersion(StateVersionDomains)); !errors.Is(res.Err, ErrConflict) {
		t.Fatalf("raising to the current version: %v", res.Err)
	}
	h.mustApply(createBan("b1"))
	if _, ok := h.beta.get("ban/b1"); !ok {
		t.Fatal("operation gated on version 2 not applied")
	}
}

func TestHashIgnoresStateVersionAndIndex(t *testing.T) {
	g := newHarness(t)
	baseState(g)
	hash := g.fsm.Hash()
	if res := g.apply(createTenant("INVALID")); res.Err == nil {
		t.Fatal("invalid tenant accepted")
	}
	if g.fsm.Hash() != hash || g.fsm.Applied().Index() != 5 {
		t.Fatal("hash must ignore the applied index")
	}
	// The engine section hashes nothing, so raising the state version
	// keeps a data dir's hash.
	e, empty := newHashEncoder(), newHashEncoder()
	engineSection(StateVersionDomains).Hash(e)
	if !bytes.Equal(e.sum(), empty.sum()) {
		t.Fatal("the engine section changes the hash")
	}
}

func TestHashMemo(t *testing.T) {
	h := newHarness(t)
	empty := h.fsm.Hash()
	h.mustApply(createTenant("acme"))
	changed := h.fsm.Hash()
	if changed == empty || h.fsm.Hash() != changed {
		t.Fatal("Hash did not follow an applied change")
	}
	if m := h.fsm.hashMemo.Load(); m == nil || m.sum != changed {
		t.Fatal("Hash did not remember its result")
	}
	h.apply(createTenant("acme")) // rejected
	if h.fsm.Hash() != changed {
		t.Fatal("rejected command changed the hash")
	}
	g := newHarness(t)
	g.mustApply(createTenant("other"))
	g.fsm.Hash()
	restore(t, g.fsm, persist(t, h.fsm))
	if g.fsm.Hash() != changed {
		t.Fatal("Hash answered from its memo after Restore")
	}
}

func TestCounts(t *testing.T) {
	h := newHarness(t)
	baseState(h)
	got := h.fsm.Counts()
	if got["alpha"]["alpha_items"] != 4 || got["engine"]["state_version"] != StateVersionInitial {
		t.Fatalf("Counts = %v", got)
	}
	if _, ok := got["gamma"]; !ok || len(got) != 4 {
		t.Fatalf("Counts = %v, want alpha, beta, gamma and engine", got)
	}
}

func TestWaitIndexAndChange(t *testing.T) {
	h := newHarness(t)
	a := h.fsm.Applied()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)

	if err := a.WaitIndex(ctx, 0); err != nil {
		t.Fatalf("WaitIndex(0) = %v", err)
	}
	done := make(chan error, 2)
	go func() { done <- a.WaitIndex(ctx, 2) }()
	go func() { done <- a.WaitChange(ctx, 1) }()
	h.apply(createTenant("acme"))
	select {
	case err := <-done:
		t.Fatalf("a waiter returned early at index 1: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	h.apply(createTenant("acme")) // rejected, but still wakes waiters
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("waiter: %v", err)
		}
	}

	short, cancelShort := context.WithTimeout(context.Background(), 10*time.Millisecond)
	t.Cleanup(cancelShort)
	if err := a.WaitChange(short, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitChange timeout = %v", err)
	}
	if err := a.WaitIndex(short, 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitIndex timeout = %v", err)
	}
	if err := a.WaitChange(short, 1); err != nil {
		t.Fatalf("WaitChange already satisfied = %v", err)
	}
}

// TestApplyBatchMatchesApply applies the same log through Apply one entry
// at a time and through ApplyBatch: the results, the data and the applied
// index agree, a rejected entry in the middle of a batch changes nothing
// while the entries after it still see the ones before, and a
// configuration entry gets a nil response and no index of its own.
func TestApplyBatchMatchesApply(t *testing.T) {
	cmds := []*cassnetv1.Command{
		createTenant("new"),
		createProject("new", "g"),
		createTenant("new"),            // conflict: rejected
		createProject("acme", "fail"),  // staged in two modules, then rejected
		deleteTenant("other"),          // reaches the dropper in the same entry
		createProject("new", "second"), // sees "new" from earlier in the batch
	}
	one, batch := newHarness(t), newHarness(t)
	baseState(one)
	baseState(batch)
	var logs []*raft.Log
	var want []*ApplyResult
	for _, c := range cmds {
		want = append(want, one.apply(proto.Clone(c).(*cassnetv1.Command)))
		batch.index++
		batch.now = batch.now.Add(time.Second)
		c.TimeUnixNano = batch.now.UnixNano()
		data, err := EncodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, &raft.Log{Index: batch.index, Term: 1, Type: raft.LogCommand, Data: data})
	}
	// A configuration change last: raft sends it in the batch.
	logs = append(logs, &raft.Log{Index: batch.index + 1, Term: 1, Type: raft.LogConfiguration})

	woke := make(chan error, 1)
	start := batch.fsm.Applied().Index()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		woke <- batch.fsm.Applied().WaitChange(ctx, start)
	}()
	got := batch.fsm.ApplyBatch(logs)
	if len(got) != len(logs) {
		t.Fatalf("ApplyBatch returned %d responses for %d entries", len(got), len(logs))
	}
	for i, w := range want {
		res, ok := got[i].(*ApplyResult)
		if !ok {
			t.Fatalf("response %d is %T", i, got[i])
		}
		if res.Index != logs[i].Index || !errors.Is(res.Err, w.Err) && (res.Err != nil || w.Err != nil) {
			t.Errorf("entry %d: got (%d, %v), Apply gave (%d, %v)", i, res.Index, res.Err, w.Index, w.Err)
		}
	}
	if got[len(got)-1] != nil {
		t.Errorf("configuration entry response = %v, want nil", got[len(got)-1])
	}
	if err := <-woke; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	if idx := batch.fsm.Applied().Index(); idx != batch.index || idx != one.fsm.Applied().Index() {
		t.Fatalf("applied index = %d, want %d (the last command)", idx, batch.index)
	}
	if a, b := batch.fsm.Hash(), one.fsm.Hash(); a != b {
		t.Fatalf("batch hash %s differs from one-by-one %s", a, b)
	}
	if c := batch.fsm.capture(); c.index != batch.index {
		t.Fatalf("capture index = %d, want %d", c.index, batch.index)
	}
	if _, ok := batch.alpha.get("p/new/second"); !ok {
		t.Fatal("an entry did not see an earlier entry of its batch")
	}
}

package testnet

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Generator is one kind of workload: bans (with a porcupine Model),
// sessions (judged by SessionChecker: verify is a stale local read, so it
// has no Model) and pubsub (publishes in the history, deliveries recorded
// by its subscribers for the messaging checker; no Model).
//
// Setup is called once before the workers start. Step is called by many
// workers concurrently, never twice at once for the same worker; it
// performs one operation and records it with w.Record (or w.Drop).
type Generator interface {
	// Name tags the generator's operations in the history.
	Name() string
	// Setup creates what the workload needs (a tenant, topics).
	Setup(ctx context.Context, t *WorkTarget) error
	// Step performs one operation as w.
	Step(ctx context.Context, w *Worker)
	// Model is the specification the linearizability checker holds the
	// generator's operations to, or nil if they are not checked that way.
	Model() *porcupine.Model
}

// WorkTarget is the cluster as workloads see it: only REST.
type WorkTarget struct {
	Client *Client
	// Nodes returns the nodes a worker may bind to (they change as the
	// nemesis adds nodes).
	Nodes func() []*Node
	// OpTimeout bounds one request; a write that times out is
	// indeterminate.
	OpTimeout time.Duration
	// Clock is the history's clock, for workloads that record events
	// outside Step (subscribers); Seed seeds their choices.
	Clock Clock
	Seed  uint64
}

// Worker is one client of the workload: bound to one node, recording
// under one porcupine client id at a time.
type Worker struct {
	// ID numbers the worker from 0; Rand is its own seeded source.
	ID     int
	Rand   *rand.Rand
	Target *WorkTarget

	hist   *History
	node   *Node
	client int
}

// Node is the node the worker talks to.
func (w *Worker) Node() *Node { return w.node }

// rebind moves the worker to a random node.
func (w *Worker) rebind() {
	if nodes := w.Target.Nodes(); len(nodes) > 0 {
		w.node = nodes[w.Rand.IntN(len(nodes))]
	}
}

// Now is the time on the history's clock; take it just before sending.
func (w *Worker) Now() int64 { return w.hist.Now() }

// Record adds a completed operation to the history: the generator fills
// Workload, Input, Output, Call (from Now, just before sending),
// Indeterminate and Detail; Record fills the client id, the node and the
// return time. After an indeterminate operation the worker continues
// under a new client id (etcd's model) and binds to a random node again.
func (w *Worker) Record(e Entry) {
	e.Client, e.Node, e.Return = w.client, w.node.Name, w.hist.Now()
	w.hist.Add(e)
	if e.Indeterminate {
		w.client = w.hist.NewClient()
		w.rebind()
	}
}

// Drop counts an operation that changed nothing and is not recorded (a
// read that failed), and rebinds the worker.
func (w *Worker) Drop(workload string) {
	w.hist.Drop(workload)
	w.rebind()
}

// WorkloadConfig shapes a workload run.
type WorkloadConfig struct {
	Clients    int
	Generators []Generator
	// Seed seeds every worker's Rand (worker i uses stream i).
	Seed uint64
}

// RunWorkload runs cfg.Clients workers until ctx ends. Each worker picks
// a random node, then a random generator for every step.
func RunWorkload(ctx context.Context, cfg WorkloadConfig, t *WorkTarget, h *History) error {
	if cfg.Clients < 1 || len(cfg.Generators) == 0 {
		return errors.New("workload: need at least one client and one generator")
	}
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		w := &Worker{
			ID: i, Rand: rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1)),
			Target: t, hist: h, client: h.NewClient(),
		}
		w.rebind()
		if w.node == nil {
			return errors.New("workload: no nodes")
		}
		wg.Go(func() {
			for ctx.Err() == nil {
				g := cfg.Generators[w.Rand.IntN(len(cfg.Generators))]
				g.Step(ctx, w)
			}
		})
	}
	wg.Wait()
	return nil
}

// transportDetail names a transport error briefly: "dial: connection
// refused", "read: connection reset by peer", "EOF".
func transportDetail(err error) string {
	var op *net.OpError
	switch {
	case errors.As(err, &op):
		return op.Op + ": " + op.Err.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	}
	return ErrorClass(err)
}

// isDialError reports whether err happened while connecting, so the
// request was never sent and cannot have taken effect.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

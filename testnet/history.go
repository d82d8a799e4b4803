package testnet

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Entry is one completed operation of a workload: what was asked, what came
// back, and when (on the run's Clock).
type Entry struct {
	// Workload is the generator that made it ("bans").
	Workload string `json:"workload"`
	// Client is the porcupine client id: a worker gets a fresh one after
	// every indeterminate operation, because that operation may still
	// take effect at any later time (etcd's model).
	Client int    `json:"client"`
	Node   string `json:"node"`
	Input  any    `json:"input"`
	Output any    `json:"output"`
	Call   int64  `json:"call_ns"`
	// Return is when the answer arrived; for an indeterminate operation
	// it is the time the client gave up, and the checker moves it past
	// the end of the history.
	Return int64 `json:"return_ns"`
	// Indeterminate: a write whose outcome is unknown (504, transport
	// error, time-out).
	Indeterminate bool `json:"indeterminate,omitempty"`
	// Detail says why a write failed or is indeterminate ("HTTP 504",
	// "timeout", "refused").
	Detail string `json:"detail,omitempty"`
}

// History records operations from many workers. It is safe for
// concurrent use.
type History struct {
	clock Clock

	mu      sync.Mutex
	ops     []Entry
	clients int
	// dropped counts operations that were not recorded (failed reads,
	// which change nothing), by workload.
	dropped map[string]int
}

// NewHistory returns an empty history on clock.
func NewHistory(clock Clock) *History {
	return &History{clock: clock, dropped: map[string]int{}}
}

// Now is the current time on the history's clock.
func (h *History) Now() int64 { return h.clock.Now() }

// NewClient allocates a porcupine client id.
func (h *History) NewClient() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clients++
	return h.clients - 1
}

// Add records a completed operation.
func (h *History) Add(op Entry) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// Drop counts an operation that is not recorded.
func (h *History) Drop(workload string) {
	h.mu.Lock()
	h.dropped[workload]++
	h.mu.Unlock()
}

// Ops returns a copy of the recorded operations.
func (h *History) Ops() []Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Entry(nil), h.ops...)
}

// Dropped returns how many operations of workload were not recorded.
func (h *History) Dropped(workload string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dropped[workload]
}

// WriteJSONL writes one operation per line.
func (h *History) WriteJSONL(w io.Writer) error {
	enc := json.NewEncoder(w)
	for _, op := range h.Ops() {
		if err := enc.Encode(op); err != nil {
			return err
		}
	}
	return nil
}

// indeterminateMargin is how far past the last event an indeterminate
// operation's return is placed: "infinity" for the checker.
const indeterminateMargin = int64(time.Second)

// PorcupineOps converts the operations of one workload. Indeterminate
// operations return after every other event of the history, so they may
// be linearized at any point after their call, including never (last).
func PorcupineOps(ops []Entry, workload string) []porcupine.Operation {
	var end int64
	for _, op := range ops {
		end = max(end, op.Return, op.Call)
	}
	inf := end + indeterminateMargin
	var out []porcupine.Operation
	for _, op := range ops {
		if op.Workload != workload {
			continue
		}
		ret := op.Return
		if op.Indeterminate {
			ret = inf
		}
		out = append(out, porcupine.Operation{
			ClientId: op.Client, Input: op.Input, Call: op.Call, Output: op.Output, Return: ret,
		})
	}
	return out
}

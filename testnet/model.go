package testnet

import (
	"fmt"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
)

// Ban operation kinds.
const (
	BanCreate = "create" // POST .../bans for a fresh player
	BanRevoke = "revoke" // DELETE .../bans/{id}
	BanGet    = "get"    // GET .../bans/{id}?consistent
	BanCheck  = "check"  // GET .../players/{p}/ban?consistent
)

// Outcomes of a ban operation.
const (
	// OutOK: the write was acknowledged, or the read answered.
	OutOK = "ok"
	// OutFail: a definite failure; nothing was written (503 no_leader, a
	// refused connection, 400).
	OutFail = "fail"
	// OutUnknown: the write may or may not have happened.
	OutUnknown = "unknown"
	// OutNotFound and OutConflict are the state machine's 404 and 409.
	OutNotFound = "not_found"
	OutConflict = "conflict"
)

// BanInput is what a ban operation asked. Every operation names the
// player, which is the partition key: each player gets exactly one create,
// so one player's history is one ban's life.
type BanInput struct {
	Kind   string `json:"kind"`
	Player string `json:"player"`
	// BanID is set for revoke and get (they act on an acknowledged ban).
	BanID string `json:"ban_id,omitempty"`
}

// BanOutput is what came back.
type BanOutput struct {
	Outcome string `json:"outcome"`
	// BanID is the id a successful create returned.
	BanID string `json:"ban_id,omitempty"`
	// Revoked is what a successful get saw.
	Revoked bool `json:"revoked,omitempty"`
	// Banned is what a successful check saw.
	Banned bool `json:"banned,omitempty"`
}

// banState is one player's ban in the model.
type banState struct {
	Exists, Revoked bool
}

func (s banState) active() bool { return s.Exists && !s.Revoked }

// BanModel is the sequential specification of one player's ban, for
// porcupine. A permanent ban is created at most once, revoked at most
// once, and reads see exactly the state.
var BanModel = porcupine.Model{
	Partition: partitionByPlayer,
	Init:      func() any { return banState{} },
	Step: func(state, input, output any) (bool, any) {
		return banStep(state.(banState), input.(BanInput), output.(BanOutput))
	},
	Equal: func(a, b any) bool { return a.(banState) == b.(banState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(BanInput), output.(BanOutput)
		switch in.Kind {
		case BanGet:
			if out.Outcome == OutOK {
				return fmt.Sprintf("get %s -> revoked=%v", in.BanID, out.Revoked)
			}
		case BanCheck:
			if out.Outcome == OutOK {
				return fmt.Sprintf("check %s -> banned=%v", in.Player, out.Banned)
			}
		}
		if in.Kind == BanCreate && out.BanID != "" {
			return fmt.Sprintf("create %s -> %s %s", in.Player, out.Outcome, out.BanID)
		}
		return strings.TrimSpace(fmt.Sprintf("%s %s %s", in.Kind, in.Player, in.BanID)) + " -> " + out.Outcome
	},
	DescribeState: func(state any) string {
		s := state.(banState)
		switch {
		case !s.Exists:
			return "no ban"
		case s.Revoked:
			return "revoked"
		default:
			return "active"
		}
	},
}

// banStep is the model's transition function.
func banStep(s banState, in BanInput, out BanOutput) (bool, banState) {
	switch in.Kind {
	case BanCreate:
		switch out.Outcome {
		case OutOK:
			return !s.Exists, banState{Exists: true}
		case OutUnknown:
			// If it took effect, it created the ban (players are unique).
			if s.Exists {
				return true, s
			}
			return true, banState{Exists: true}
		case OutFail, OutNotFound:
			// A definite failure changed nothing.
			return true, s
		}
	case BanRevoke:
		switch out.Outcome {
		case OutOK:
			return s.active(), banState{Exists: true, Revoked: true}
		case OutNotFound:
			return !s.Exists, s
		case OutConflict:
			return s.Exists && s.Revoked, s
		case OutUnknown:
			if s.active() {
				return true, banState{Exists: true, Revoked: true}
			}
			return true, s
		case OutFail:
			return true, s
		}
	case BanGet:
		switch out.Outcome {
		case OutOK:
			return s.Exists && s.Revoked == out.Revoked, s
		case OutNotFound:
			return !s.Exists, s
		}
	case BanCheck:
		if out.Outcome == OutOK {
			return s.active() == out.Banned, s
		}
	}
	// Anything else is an outcome the workload never records.
	return false, s
}

// partitionByPlayer splits a history into one sub-history per player.
func partitionByPlayer(history []porcupine.Operation) [][]porcupine.Operation {
	by := map[string][]porcupine.Operation{}
	for _, op := range history {
		p := op.Input.(BanInput).Player
		by[p] = append(by[p], op)
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, by[k])
	}
	return out
}

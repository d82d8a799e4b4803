package consensus

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// Router routes each command operation to the module that owns it, by a
// table keyed by the operation's message type, as Consul's FSM does with
// registerCommand. Adding a domain adds table entries; the FSM has no
// switch over operations.
type Router struct {
	routes map[protoreflect.FullName]*route
	opDesc protoreflect.OneofDescriptor
}

type route struct {
	owner      Module
	minVersion uint32
	validate   func(proto.Message) error
	apply      func(*Tx, proto.Message) error
}

func newRouter() *Router {
	return &Router{
		routes: make(map[protoreflect.FullName]*route),
		opDesc: (&cassnetv1.Command{}).ProtoReflect().Descriptor().Oneofs().ByName("op"),
	}
}

// Handler describes how one operation, a message of type T in the
// Command's op oneof, is validated and applied.
type Handler[T proto.Message] struct {
	// Validate checks the operation without looking at any state. It runs
	// on the proposing node before the command enters the log, and again
	// in Apply. Its error wraps ErrInvalid.
	Validate func(op T) error
	// Apply checks the operation against the state and stages its change
	// in tx; it must check everything before staging anything that it
	// might have to take back, or return an error (which drops the whole
	// entry's staged changes). It runs on the apply goroutine.
	Apply func(tx *Tx, op T) error
	// MinStateVersion, if set, refuses the operation until the cluster's
	// state version reaches it: operations that old nodes would skip must
	// wait until every server runs a version that applies them.
	MinStateVersion uint32
}

// Handle registers h for the operation type T, owned by owner. It panics
// if T is not an operation of Command or is registered twice: that is a
// programming error found at start-up.
func Handle[T proto.Message](r *Router, owner Module, h Handler[T]) {
	var zero T
	name := zero.ProtoReflect().Descriptor().FullName()
	if !r.isOp(name) {
		panic(fmt.Sprintf("consensus: %s is not an operation of Command", name))
	}
	if _, dup := r.routes[name]; dup {
		panic(fmt.Sprintf("consensus: operation %s registered twice", name))
	}
	r.routes[name] = &route{
		owner:      owner,
		minVersion: h.MinStateVersion,
		validate:   func(m proto.Message) error { return h.Validate(m.(T)) },
		apply:      func(tx *Tx, m proto.Message) error { return h.Apply(tx, m.(T)) },
	}
}

func (r *Router) isOp(name protoreflect.FullName) bool {
	fields := r.opDesc.Fields()
	for i := 0; i < fields.Len(); i++ {
		if fields.Get(i).Message() != nil && fields.Get(i).Message().FullName() == name {
			return true
		}
	}
	return false
}

// lookup returns the route and the operation message of cmd, or an error
// wrapping ErrInvalid if no known operation is set.
func (r *Router) lookup(cmd *cassnetv1.Command) (*route, proto.Message, error) {
	m := cmd.ProtoReflect()
	fd := m.WhichOneof(r.opDesc)
	if fd == nil || fd.Message() == nil {
		// No operation, or one this node does not know (a newer node's
		// field arrives as an unknown field).
		return nil, nil, NewError(ErrInvalid, "op: exactly one known operation must be set")
	}
	op := m.Get(fd).Message()
	if !op.IsValid() {
		return nil, nil, NewError(ErrInvalid, "op: exactly one known operation must be set")
	}
	rt, ok := r.routes[fd.Message().FullName()]
	if !ok {
		return nil, nil, NewError(ErrInvalid, "op: %s is not handled by any module of this node", fd.Message().FullName())
	}
	return rt, op.Interface(), nil
}

// validate checks a command without looking at any state: the envelope
// version, the actor, that exactly one known operation is set, and that
// operation's fields.
func (r *Router) validate(cmd *cassnetv1.Command) (*route, proto.Message, error) {
	if cmd == nil {
		return nil, nil, NewError(ErrInvalid, "command: missing")
	}
	if v := cmd.GetVersion(); v != CommandVersion {
		return nil, nil, NewError(ErrInvalid, "version: unknown command version %d (this node applies version %d)", v, CommandVersion)
	}
	if err := validateActor(cmd.GetActor()); err != nil {
		return nil, nil, err
	}
	rt, op, err := r.lookup(cmd)
	if err != nil {
		return nil, nil, err
	}
	if err := rt.validate(op); err != nil {
		return nil, nil, err
	}
	return rt, op, nil
}

package consensus

import "fmt"

// Error is an error with a stable code. Codes cross the internal RPC
// unchanged, so a write forwarded to the leader fails on the follower with
// the same code the leader's state machine produced.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Is matches any *Error with the same code, so callers can write
// errors.Is(err, consensus.ErrNotFound).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinel errors. Compare with errors.Is.
var (
	// ErrNotFound: the named resource does not exist.
	ErrNotFound = &Error{Code: "not_found"}
	// ErrConflict: the resource already exists, or the change conflicts
	// with the current state.
	ErrConflict = &Error{Code: "conflict"}
	// ErrInvalid: the command is malformed.
	ErrInvalid = &Error{Code: "invalid_argument"}
	// ErrNoLeader: no leader is known; retry later.
	ErrNoLeader = &Error{Code: "no_leader"}
	// ErrIndeterminate: the write may or may not have been committed
	// (leadership was lost, or the deadline expired after proposing).
	ErrIndeterminate = &Error{Code: "indeterminate"}
	// ErrStateVersion: the operation needs a higher replicated state
	// version than the cluster's; it will succeed once every server is
	// upgraded (see engine.go). The API answers it 409.
	ErrStateVersion = &Error{Code: "state_version"}
	// ErrShuttingDown: the node is stopping.
	ErrShuttingDown = &Error{Code: "shutting_down"}
)

// NewError returns an error with base's code and a formatted message.
// Modules use it for every rejection, so the code crosses the RPC intact.
func NewError(base *Error, format string, args ...any) error {
	return &Error{Code: base.Code, Message: fmt.Sprintf(format, args...)}
}

func newError(base *Error, format string, args ...any) error { return NewError(base, format, args...) }

// codeError rebuilds an error from a code and message received over RPC.
func codeError(code, message string) error {
	return &Error{Code: code, Message: message}
}

package supervisor

import (
	"context"
	"errors"
)

// impl is a stub until the real supervisor lands.
type impl struct{ events chan Event }

var errTODO = errors.New("supervisor: not implemented yet")

func newSupervisor(cfg Config) (*Supervisor, error) {
	return &Supervisor{impl{events: make(chan Event, 256)}}, nil
}
func (s *impl) start(ctx context.Context, spec Spec) (Status, error) { return Status{}, errTODO }
func (s *impl) stop(ctx context.Context, id string) error            { return errTODO }
func (s *impl) kill(id string) error                                 { return errTODO }
func (s *impl) restart(ctx context.Context, id string) error         { return errTODO }
func (s *impl) status(id string) (Status, bool)                      { return Status{}, false }
func (s *impl) list() []Status                                       { return nil }
func (s *impl) remove(ctx context.Context, id string) error          { return errTODO }
func (s *impl) logs(id string, n int) ([]LogLine, error)             { return nil, errTODO }
func (s *impl) follow(ctx context.Context, id string) (<-chan LogLine, error) {
	return nil, errTODO
}
func (s *impl) close(ctx context.Context) error { return nil }

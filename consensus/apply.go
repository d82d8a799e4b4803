package consensus

import (
	"slices"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// apply applies a command that ValidateCommand has accepted, as the log
// entry at index. Each operation checks everything against the state before
// it changes anything, so a rejected command leaves the data untouched.
// Accepted or not, the index advances and waiters wake. An accepted command
// appends one audit entry; a rejected one appends none.
func (s *State) apply(cmd *cassnetv1.Command, index uint64) error {
	at := time.Unix(0, cmd.GetTimeUnixNano()).UTC()
	actor := cmd.GetActor()

	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.advance(index)

	var (
		action, tenant, target string
		err                    error
	)
	switch op := cmd.GetOp().(type) {
	case *cassnetv1.Command_CreateTenant:
		action, tenant, target = "tenant.create", op.CreateTenant.GetName(), op.CreateTenant.GetName()
		err = s.createTenant(op.CreateTenant, actor, at)
	case *cassnetv1.Command_DeleteTenant:
		action, tenant, target = "tenant.delete", op.DeleteTenant.GetName(), op.DeleteTenant.GetName()
		err = s.deleteTenant(op.DeleteTenant)
	case *cassnetv1.Command_CreateProject:
		action, tenant, target = "project.create", op.CreateProject.GetTenant(), op.CreateProject.GetName()
		err = s.createProject(op.CreateProject, actor, at)
	case *cassnetv1.Command_CreateBan:
		action, tenant, target = "ban.create", op.CreateBan.GetTenant(), op.CreateBan.GetId()
		err = s.createBan(op.CreateBan, actor, at)
	case *cassnetv1.Command_RevokeBan:
		action, tenant, target = "ban.revoke", op.RevokeBan.GetTenant(), op.RevokeBan.GetId()
		err = s.revokeBan(op.RevokeBan, actor, at)
	case *cassnetv1.Command_SetSettings:
		action, target = "settings.set", "audit_retention"
		s.settings.AuditRetention = op.SetSettings.GetAuditRetention()
	case *cassnetv1.Command_CreateOperatorToken:
		action, target = "operator_token.create", op.CreateOperatorToken.GetId()
		err = s.createOperatorToken(op.CreateOperatorToken, at)
	default:
		// Unreachable after ValidateCommand; refuse rather than guess.
		err = newError(ErrInvalid, "op: exactly one known operation must be set")
	}
	if err != nil {
		return err
	}
	s.gen++
	s.appendAudit(AuditEntry{
		Index: index, Time: at, Actor: actor,
		Action: action, Tenant: tenant, Target: target,
	})
	return nil
}

// appendAudit adds e and drops the oldest entries beyond the retention.
func (s *State) appendAudit(e AuditEntry) {
	s.audit = append(s.audit, e)
	if over := len(s.audit) - int(s.settings.AuditRetention); over > 0 {
		clear(s.audit[:over]) // let the dropped strings be collected
		s.audit = s.audit[over:]
	}
}

func (s *State) createTenant(op *cassnetv1.CreateTenant, actor string, at time.Time) error {
	name := op.GetName()
	if _, ok := s.tenants[name]; ok {
		return newError(ErrConflict, "tenant %q already exists", name)
	}
	s.tenants[name] = newTenantState(Tenant{Name: name, CreatedAt: at, CreatedBy: actor})
	return nil
}

func newTenantState(info Tenant) *tenantState {
	return &tenantState{
		info:     info,
		projects: make(map[string]Project),
		bans:     make(map[string]*Ban),
		byPlayer: make(map[string][]*Ban),
	}
}

func (s *State) deleteTenant(op *cassnetv1.DeleteTenant) error {
	name := op.GetName()
	if _, ok := s.tenants[name]; !ok {
		return newError(ErrNotFound, "tenant %q", name)
	}
	delete(s.tenants, name) // its projects, bans and ban index go with it
	return nil
}

func (s *State) createProject(op *cassnetv1.CreateProject, actor string, at time.Time) error {
	t, ok := s.tenants[op.GetTenant()]
	if !ok {
		return newError(ErrNotFound, "tenant %q", op.GetTenant())
	}
	name := op.GetName()
	if _, ok := t.projects[name]; ok {
		return newError(ErrConflict, "project %q already exists in tenant %q", name, op.GetTenant())
	}
	t.projects[name] = Project{Tenant: op.GetTenant(), Name: name, CreatedAt: at, CreatedBy: actor}
	return nil
}

func (s *State) createBan(op *cassnetv1.CreateBan, actor string, at time.Time) error {
	t, ok := s.tenants[op.GetTenant()]
	if !ok {
		return newError(ErrNotFound, "tenant %q", op.GetTenant())
	}
	if p := op.GetProject(); p != "" {
		if _, ok := t.projects[p]; !ok {
			return newError(ErrNotFound, "project %q in tenant %q", p, op.GetTenant())
		}
	}
	if _, ok := t.bans[op.GetId()]; ok {
		return newError(ErrConflict, "ban %q already exists in tenant %q", op.GetId(), op.GetTenant())
	}
	b := &Ban{
		ID:        op.GetId(),
		Tenant:    op.GetTenant(),
		ProjectID: op.GetProject(),
		PlayerID:  op.GetPlayerId(),
		Reason:    op.GetReason(),
		CreatedBy: actor,
		CreatedAt: at,
	}
	if d := op.GetDurationSeconds(); d > 0 {
		exp := at.Add(time.Duration(d) * time.Second)
		b.ExpiresAt = &exp
	}
	t.addBan(b)
	return nil
}

// addBan inserts b into the ban table and the per-player index.
func (t *tenantState) addBan(b *Ban) {
	t.bans[b.ID] = b
	t.byPlayer[b.PlayerID] = append(t.byPlayer[b.PlayerID], b)
}

func (s *State) revokeBan(op *cassnetv1.RevokeBan, actor string, at time.Time) error {
	t, ok := s.tenants[op.GetTenant()]
	if !ok {
		return newError(ErrNotFound, "ban %q in tenant %q", op.GetId(), op.GetTenant())
	}
	b, ok := t.bans[op.GetId()]
	if !ok {
		return newError(ErrNotFound, "ban %q in tenant %q", op.GetId(), op.GetTenant())
	}
	if b.RevokedAt != nil {
		return newError(ErrConflict, "ban %q is already revoked", op.GetId())
	}
	// Replace the pointer, never write through it (see State).
	b.RevokedAt = &at
	b.RevokedBy = actor
	return nil
}

func (s *State) createOperatorToken(op *cassnetv1.CreateOperatorToken, at time.Time) error {
	id := op.GetId()
	if _, ok := s.tokens[id]; ok {
		return newError(ErrConflict, "operator token %q already exists", id)
	}
	s.tokens[id] = OperatorToken{
		ID:           id,
		Name:         op.GetName(),
		SecretSHA256: slices.Clone(op.GetSecretSha256()),
		CreatedAt:    at,
	}
	return nil
}

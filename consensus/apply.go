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

	e := AuditEntry{Index: index, Time: at, Actor: actor}
	var (
		err   error
		extra []AuditEntry // entries written instead of e (aggregated auth failures)
		quiet bool         // accepted without an audit entry (key-use bookkeeping)
	)
	switch op := cmd.GetOp().(type) {
	case *cassnetv1.Command_CreateTenant:
		e.Action, e.Tenant, e.Target = "tenant.create", op.CreateTenant.GetName(), op.CreateTenant.GetName()
		err = s.createTenant(op.CreateTenant, actor, at)
	case *cassnetv1.Command_DeleteTenant:
		e.Action, e.Tenant, e.Target = "tenant.delete", op.DeleteTenant.GetName(), op.DeleteTenant.GetName()
		err = s.deleteTenant(op.DeleteTenant)
	case *cassnetv1.Command_CreateProject:
		e.Action, e.Tenant, e.Target = "project.create", op.CreateProject.GetTenant(), op.CreateProject.GetName()
		err = s.createProject(op.CreateProject, actor, at)
	case *cassnetv1.Command_CreateBan:
		e.Action, e.Tenant, e.Target = "ban.create", op.CreateBan.GetTenant(), op.CreateBan.GetId()
		err = s.createBan(op.CreateBan, actor, at)
	case *cassnetv1.Command_RevokeBan:
		e.Action, e.Tenant, e.Target = "ban.revoke", op.RevokeBan.GetTenant(), op.RevokeBan.GetId()
		err = s.revokeBan(op.RevokeBan, actor, at)
	case *cassnetv1.Command_SetSettings:
		e.Action, e.Target = "settings.set", settingsTarget(op.SetSettings)
		s.setSettings(op.SetSettings)
	case *cassnetv1.Command_CreateOperatorToken:
		e.Action, e.Target = "operator_token.create", op.CreateOperatorToken.GetId()
		err = s.createOperatorToken(op.CreateOperatorToken, at)
	case *cassnetv1.Command_RevokeOperatorToken:
		e.Action, e.Target = "operator_token.revoke", op.RevokeOperatorToken.GetId()
		err = s.revokeOperatorToken(op.RevokeOperatorToken, at)
	case *cassnetv1.Command_UpdateGossipKeyring:
		k := op.UpdateGossipKeyring
		e.Action, e.Target = "gossip_keyring."+k.GetAction(), GossipKeyID(k.GetKey())
		err = s.updateGossipKeyring(k)
	case *cassnetv1.Command_CreateJoinToken:
		e.Action, e.Target = "join_token.create", op.CreateJoinToken.GetId()
		err = s.createJoinToken(op.CreateJoinToken, at)
	case *cassnetv1.Command_RevokeJoinToken:
		e.Action, e.Target = "join_token.revoke", op.RevokeJoinToken.GetId()
		err = s.revokeJoinToken(op.RevokeJoinToken)
	case *cassnetv1.Command_CreateApiKey:
		k := op.CreateApiKey
		e.Action, e.Tenant, e.Target = "api_key.create", k.GetTenant(), k.GetId()
		e.Detail = "role=" + k.GetRole()
		if k.GetProject() != "" {
			e.Detail += " project=" + k.GetProject()
		}
		err = s.createAPIKey(k, actor, at)
	case *cassnetv1.Command_RevokeApiKey:
		e.Action, e.Tenant, e.Target = "api_key.revoke", op.RevokeApiKey.GetTenant(), op.RevokeApiKey.GetId()
		err = s.revokeAPIKey(op.RevokeApiKey)
	case *cassnetv1.Command_TouchApiKeys:
		quiet = true
		s.touchAPIKeys(op.TouchApiKeys)
	case *cassnetv1.Command_RotateSigningKey:
		e.Action, e.Target = "signing_key.rotate", op.RotateSigningKey.GetKid()
		err = s.rotateSigningKey(op.RotateSigningKey, actor, at)
	case *cassnetv1.Command_RevokeSession:
		e.Action, e.Tenant, e.Target = "session.revoke", op.RevokeSession.GetTenant(), op.RevokeSession.GetSessionId()
		err = s.revokeSession(op.RevokeSession, actor, at)
	case *cassnetv1.Command_RevokePlayerSessions:
		r := op.RevokePlayerSessions
		e.Action, e.Tenant, e.Target = "player_sessions.revoke", r.GetTenant(), r.GetPlayerId()
		if r.GetProject() != "" {
			e.Detail = "project=" + r.GetProject()
		}
		err = s.revokePlayerSessions(r, actor, at)
	case *cassnetv1.Command_RecordAuthFailures:
		extra = authFailureEntries(op.RecordAuthFailures, e)
	default:
		// Unreachable after ValidateCommand; refuse rather than guess.
		err = newError(ErrInvalid, "op: exactly one known operation must be set")
	}
	if err != nil {
		return err
	}
	s.gen++
	s.prune(at)
	switch {
	case extra != nil:
		for _, x := range extra {
			s.appendAudit(x)
		}
	case !quiet:
		s.appendAudit(e)
	}
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
		keys:     make(map[string]APIKey),
		sessions: make(map[string]SessionRevocation),
		players:  make(map[playerScope]PlayerRevocation),
	}
}

func (s *State) deleteTenant(op *cassnetv1.DeleteTenant) error {
	name := op.GetName()
	if _, ok := s.tenants[name]; !ok {
		return newError(ErrNotFound, "tenant %q", name)
	}
	for id := range s.tenants[name].keys {
		delete(s.keyTenant, id)
	}
	delete(s.tenants, name) // its projects, bans, keys and revocations go with it
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
	t, err := s.tenantProject(op.GetTenant(), op.GetProject())
	if err != nil {
		return err
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
	if len(s.tokens) >= MaxOperatorTokens {
		return newError(ErrConflict, "at most %d operator tokens may exist", MaxOperatorTokens)
	}
	exp, err := expiry(op.GetExpiresUnix(), at)
	if err != nil {
		return err
	}
	s.tokens[id] = OperatorToken{
		ID:           id,
		Name:         op.GetName(),
		SecretSHA256: slices.Clone(op.GetSecretSha256()),
		CreatedAt:    at,
		ExpiresAt:    exp,
	}
	s.notePrune(exp)
	return nil
}

// tenantProject returns the tenant, after checking that project (if not
// empty) exists in it.
func (s *State) tenantProject(tenant, project string) (*tenantState, error) {
	t, ok := s.tenants[tenant]
	if !ok {
		return nil, newError(ErrNotFound, "tenant %q", tenant)
	}
	if project != "" {
		if _, ok := t.projects[project]; !ok {
			return nil, newError(ErrNotFound, "project %q in tenant %q", project, tenant)
		}
	}
	return t, nil
}

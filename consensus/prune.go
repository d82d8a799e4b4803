package consensus

import "time"

// Pruning keeps the identity state bounded. Expired API keys and operator
// tokens, revocations whose tokens have expired, and retired signing keys
// whose last token has expired are deleted inside Apply, using the leader
// time stamped in the command, never the applying node's clock. So every
// replica prunes the same items at the same log index.
//
// Pruning runs only after an accepted command (a rejected one changes
// nothing). Items that have expired but are not yet pruned are harmless:
// every reader checks expiry against its own clock anyway.
//
// nextPrune is a lower bound on the earliest expiry in the state, so most
// commands skip the sweep. It is derived data: a node that restored a
// snapshot starts at the zero time and sweeps at its next accepted
// command, which removes exactly what the others would remove.

// notePrune lowers nextPrune to t if t is earlier. The caller holds the
// write lock.
func (s *State) notePrune(t *time.Time) {
	if t != nil && (s.nextPrune.IsZero() || t.Before(s.nextPrune)) {
		s.nextPrune = *t
	}
}

// signingPruneAt is when a retired signing key may be dropped: every
// token it signed has expired by then.
func (s *State) signingPruneAt(k SigningKey) *time.Time {
	if k.RetiredAt == nil {
		return nil
	}
	t := k.RetiredAt.Add(s.settings.MaxSessionTTL())
	return &t
}

// prune deletes everything that has expired at at. The caller holds the
// write lock.
func (s *State) prune(at time.Time) {
	if at.Before(s.nextPrune) {
		return
	}
	var next time.Time
	keep := func(exp *time.Time) bool {
		if exp == nil {
			return true
		}
		if !exp.After(at) {
			return false
		}
		if next.IsZero() || exp.Before(next) {
			next = *exp
		}
		return true
	}
	for id, tok := range s.tokens {
		if !keep(tok.ExpiresAt) {
			delete(s.tokens, id)
		}
	}
	for kid, k := range s.signing {
		if !keep(s.signingPruneAt(k)) {
			delete(s.signing, kid)
		}
	}
	for _, t := range s.tenants {
		for id, k := range t.keys {
			if !keep(k.ExpiresAt) {
				delete(t.keys, id)
				delete(s.keyTenant, id)
			}
		}
		for id, r := range t.sessions {
			if !keep(&r.ExpiresAt) {
				delete(t.sessions, id)
			}
		}
		for key, r := range t.players {
			if !keep(&r.ExpiresAt) {
				delete(t.players, key)
			}
		}
	}
	// With nothing left to expire, wait for notePrune; the zero time would
	// sweep on every command.
	if next.IsZero() {
		next = time.Unix(1<<62, 0)
	}
	s.nextPrune = next
}

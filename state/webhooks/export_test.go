package webhooks

// SetOutboxCap lowers the per-tenant outbox bound for a test. Call it
// before the first Apply.
func (s *Store) SetOutboxCap(n int) { s.outboxCap = n }

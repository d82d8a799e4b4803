package cluster

// EditJoinToken replaces a committed join token with fn's edit of a copy,
// behind the FSM's back, for the test that the hash covers every field.
func EditJoinToken(s *Store, id string, fn func(*JoinToken)) {
	d := s.cur.Load()
	t, ok := d.joinTokens.Get(id)
	if !ok {
		panic("EditJoinToken: no token " + id)
	}
	fn(&t)
	w := d.joinTokens.Txn()
	w.Put(id, t)
	s.cur.Store(&data{gossipKeys: d.gossipKeys, joinTokens: w.Commit()})
}

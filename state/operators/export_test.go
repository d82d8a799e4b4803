package operators

// EditToken replaces a committed token with fn's edit of a copy, behind
// the FSM's back, for the test that the hash covers every field.
func EditToken(s *Store, id string, fn func(*Token)) {
	d := s.cur.Load()
	t, ok := d.tokens.Get(id)
	if !ok {
		panic("EditToken: no token " + id)
	}
	fn(&t)
	w := s.begin(d)
	w.tokens.Put(id, t)
	w.Commit()
}

package settings

// Edit replaces the committed settings with fn's edit of a copy, behind
// the FSM's back, for the test that the hash covers every field.
func Edit(s *Store, fn func(*Settings)) {
	v := *s.cur.Load()
	fn(&v)
	s.cur.Store(&v)
}

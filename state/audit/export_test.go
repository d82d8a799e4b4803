package audit

import "github.com/cassandranet/cassnet/state/table"

// EditNewest replaces the newest committed entry with fn's edit of a copy,
// behind the FSM's back, for the test that the hash covers every field.
func EditNewest(s *Store, fn func(*Entry)) {
	d := s.cur.Load()
	if d.entries.Len() == 0 {
		panic("EditNewest: empty audit log")
	}
	var fresh table.Log[Entry]
	i := 0
	d.entries.Each(func(e Entry) bool {
		if i++; i == d.entries.Len() {
			fn(&e)
		}
		fresh = fresh.Append(e)
		return true
	})
	s.cur.Store(&data{entries: fresh})
}

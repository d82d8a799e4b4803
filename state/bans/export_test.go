package bans

import "github.com/cassandranet/cassnet/state/table"

// EditBan replaces the committed ban tenant/id with fn's edit of a copy,
// behind the FSM's back, for the test that the hash covers every field.
func EditBan(s *Store, tenant, id string, fn func(*Ban)) {
	d := s.cur.Load()
	old, ok := d.bans.Get(table.Key(tenant, id))
	if !ok {
		panic("EditBan: no ban " + tenant + "/" + id)
	}
	v := old.decode()
	b := v.ban()
	fn(&b)
	w := s.begin(d)
	w.bans.Put(table.Key(tenant, id), encode(&b))
	s.cur.Store(&data{bans: w.bans.Commit(), byPlayer: d.byPlayer, ended: d.ended})
}

// EndedLen is the number of entries in the derived index of ended bans.
func EndedLen(s *Store) int { return s.cur.Load().ended.Len() }

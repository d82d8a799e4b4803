package identity

import "github.com/cassandranet/cassnet/state/table"

// The Edit functions replace a committed record with fn's edit of a copy,
// behind the FSM's back, for the test that the hash covers every field.

func edit(s *Store, change func(w *write)) {
	w := s.begin(s.cur.Load())
	change(w)
	w.Commit()
}

func EditAPIKey(s *Store, tenant, id string, fn func(*APIKey)) {
	edit(s, func(w *write) {
		k, ok := w.keys.Get(table.Key(tenant, id))
		if !ok {
			panic("EditAPIKey: no key " + id)
		}
		fn(&k)
		w.keys.Put(table.Key(tenant, id), k)
	})
}

func EditSigningKey(s *Store, kid string, fn func(*SigningKey)) {
	edit(s, func(w *write) {
		k, ok := w.signing.Get(kid)
		if !ok {
			panic("EditSigningKey: no key " + kid)
		}
		fn(&k)
		w.signing.Put(kid, k)
	})
}

func EditSessionRevocation(s *Store, tenant, sid string, fn func(*SessionRevocation)) {
	edit(s, func(w *write) {
		r, ok := w.sessions.Get(table.Key(tenant, sid))
		if !ok {
			panic("EditSessionRevocation: no revocation " + sid)
		}
		fn(&r)
		w.sessions.Put(table.Key(tenant, sid), r)
	})
}

func EditPlayerRevocation(s *Store, tenant, player, project string, fn func(*PlayerRevocation)) {
	edit(s, func(w *write) {
		key := table.Key(tenant, player, project)
		r, ok := w.players.Get(key)
		if !ok {
			panic("EditPlayerRevocation: no revocation " + player)
		}
		fn(&r)
		w.players.Put(key, r)
	})
}

package ugc

// EditFirst replaces the first committed record of each table with fn's
// edit of a copy, behind the FSM's back, for the test that the hash
// covers every field. Exactly one of the functions is non-nil.
func EditFirst(s *Store, item func(*Item), version func(*Version), set func(*Settings), blob func(*Blob), report func(*Report)) {
	d := *s.cur.Load()
	switch {
	case item != nil:
		x := d.items.Txn()
		d.items.Walk("", func(k string, v *Item) bool { c := *v.clone(); item(&c); x.Put(k, &c); return false })
		d.items = x.Commit()
	case version != nil:
		x := d.versions.Txn()
		d.versions.Walk("", func(k string, v *Version) bool { c := *v; version(&c); x.Put(k, &c); return false })
		d.versions = x.Commit()
	case set != nil:
		x := d.settings.Txn()
		d.settings.Walk("", func(k string, v *Settings) bool { c := *v; set(&c); x.Put(k, &c); return false })
		d.settings = x.Commit()
	case blob != nil:
		x := d.blobs.Txn()
		d.blobs.Walk("", func(k string, v *Blob) bool { c := *v; blob(&c); x.Put(k, &c); return false })
		d.blobs = x.Commit()
	case report != nil:
		x := d.reports.Txn()
		d.reports.Walk("", func(k string, v *Report) bool { c := *v; report(&c); x.Put(k, &c); return false })
		d.reports = x.Commit()
	}
	s.cur.Store(&d)
}

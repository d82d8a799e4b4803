package ugc_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/table"
	"github.com/cassandranet/cassnet/state/tenancy"
	"github.com/cassandranet/cassnet/state/ugc"
)

// The benchmark corpus: items with 3-word titles, 20-word descriptions
// and 3 tags, words drawn from a 5,000-word vocabulary with a Zipf
// distribution (a few words are in most items, as "map" would be).
var benchItems = 100_000

var (
	benchOnce      sync.Once
	benchStore     *ugc.Store
	benchHeap      uint64 // heap of the whole module (records + index)
	benchItemsHeap uint64 // heap of the item records alone
	benchVocab     []string
)

func vocab() []string {
	v := make([]string, 5000)
	for i := range v {
		v[i] = fmt.Sprintf("w%x", i*7919%100_003)
	}
	return v
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func buildBench(b *testing.B) {
	benchOnce.Do(func() {
		benchVocab = vocab()
		r := rand.New(rand.NewPCG(1, 2))
		z := rand.NewZipf(r, 1.1, 2, uint64(len(benchVocab)-1))
		words := func(n int) string {
			var s []string
			for range n {
				s = append(s, benchVocab[z.Uint64()])
			}
			return strings.Join(s, " ")
		}
		cmds := make([]*cassnetv1.Command, 0, benchItems)
		for i := range benchItems {
			tags := []string{fmt.Sprintf("t%d", r.IntN(50)), fmt.Sprintf("t%d", 50+r.IntN(50)), fmt.Sprintf("t%d", 100+r.IntN(50))}
			cmds = append(cmds, op(&cassnetv1.CreateUGCItem{Tenant: "acme", Project: "game", Id: fmt.Sprintf("itm_%08d", i),
				Owner: fmt.Sprintf("p%d", r.IntN(5000)), Title: words(3), Description: words(20), Tags: tags,
				Metadata: map[string]string{"mode": "ctf"}, Visibility: "public"}))
		}
		ten := tenancy.New()
		u := ugc.New(ten)
		h := newHarnessOver(b, []consensus.Module{ten, u})
		h.mustApply(setStateVersion(3), createTenant("acme"), createProject("acme", "game"))
		before := heap()
		for _, c := range cmds {
			h.mustApply(c)
		}
		benchStore, benchHeap = u, heap()-before
		// The item records alone, in one persistent table, for comparison.
		before = heap()
		var t table.Table[*ugc.Item]
		x := t.Txn()
		for i := range benchItems {
			it, _ := u.Item("acme", "game", fmt.Sprintf("itm_%08d", i))
			x.Put(table.Key(it.Tenant, it.Project, it.ID), &it)
		}
		t = x.Commit()
		benchItemsHeap = heap() - before
		runtime.KeepAlive(t)
		runtime.KeepAlive(cmds)
	})
}

// BenchmarkUGCQuery100k runs a mix of queries against 100,000 items and
// reports their p50 and p99 latency, and the memory the module takes.
func BenchmarkUGCQuery100k(b *testing.B) {
	if testing.Short() {
		b.Skip("builds 100k items")
	}
	buildBench(b)
	r := rand.New(rand.NewPCG(3, 4))
	common, rare := benchVocab[2:20], benchVocab[1000:4000]
	visible := func(it *ugc.Item) bool { return it.Visibility == "public" }
	queries := []func() ugc.Query{
		func() ugc.Query { return ugc.Query{} },
		func() ugc.Query { return ugc.Query{Tags: []string{fmt.Sprintf("t%d", r.IntN(50))}} },
		func() ugc.Query {
			return ugc.Query{Tags: []string{fmt.Sprintf("t%d", r.IntN(50)), fmt.Sprintf("t%d", 50+r.IntN(50))}}
		},
		func() ugc.Query { return ugc.Query{Words: []string{common[r.IntN(len(common))]}} },
		func() ugc.Query { return ugc.Query{Words: []string{rare[r.IntN(len(rare))]}} },
		func() ugc.Query {
			return ugc.Query{Words: []string{common[r.IntN(len(common))], common[r.IntN(len(common))]}, Tags: []string{fmt.Sprintf("t%d", r.IntN(50))}}
		},
		func() ugc.Query { return ugc.Query{Sort: ugc.SortDownloads} },
		func() ugc.Query {
			return ugc.Query{Sort: ugc.SortDownloads, Words: []string{common[r.IntN(len(common))]}}
		},
		func() ugc.Query { return ugc.Query{Sort: ugc.SortDownloads, Words: []string{rare[r.IntN(len(rare))]}} },
		func() ugc.Query { return ugc.Query{Owner: fmt.Sprintf("p%d", r.IntN(5000))} },
		func() ugc.Query { return ugc.Query{Words: []string{"nomatch"}, Tags: []string{"t1"}} },
		func() ugc.Query {
			return ugc.Query{Words: []string{common[0]}, Visible: func(*ugc.Item) bool { return false }}
		}, // scans to the budget
	}
	lat := make([]time.Duration, 0, b.N)
	byShape := make([][]time.Duration, len(queries))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := queries[i%len(queries)]()
		q.Tenant, q.Project, q.Limit = "acme", "game", 20
		if q.Visible == nil {
			q.Visible = visible
		}
		start := time.Now()
		p, err := benchStore.Search(q)
		if err == nil && p.Next != "" && i%3 == 0 { // and the next page
			q.Cursor = p.Next
			_, err = benchStore.Search(q)
		}
		d := time.Since(start)
		lat = append(lat, d)
		byShape[i%len(queries)] = append(byShape[i%len(queries)], d)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	for i, l := range byShape {
		if len(l) > 0 {
			slices.Sort(l)
			b.Logf("shape %d: p50 %v p99 %v max %v", i, l[len(l)/2], l[len(l)*99/100], l[len(l)-1])
		}
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
	b.ReportMetric(float64(benchHeap)/(1<<20), "module-MiB")
	b.ReportMetric(float64(benchItemsHeap)/(1<<20), "items-only-MiB")
}

// BenchmarkUGCCreateItem measures one CreateUGCItem apply as the project
// grows.
func BenchmarkUGCCreateItem(b *testing.B) {
	ten := tenancy.New()
	u := ugc.New(ten)
	h := newHarnessOver(b, []consensus.Module{ten, u})
	h.mustApply(setStateVersion(3), createTenant("acme"), createProject("acme", "game"))
	v := vocab()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.mustApply(op(&cassnetv1.CreateUGCItem{Tenant: "acme", Project: "game", Id: fmt.Sprintf("itm_%08d", i),
			Owner: fmt.Sprintf("p%d", i%5000), Title: v[i%5000] + " " + v[(i*7)%5000], Description: strings.Repeat(v[(i*3)%5000]+" ", 20), Tags: []string{"map"}, Visibility: "public"}))
	}
}

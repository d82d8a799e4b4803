package testnet

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func nodeNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("n%d", i+1)
	}
	return out
}

// symmetric fails t unless every cut goes both ways.
func symmetric(t *testing.T, g Grudge) {
	t.Helper()
	for a, bs := range g {
		for _, b := range bs {
			if !slices.Contains(g[b], a) {
				t.Errorf("%s cuts %s but not the other way: %s", a, b, g)
			}
		}
	}
}

func TestPartitionShapes(t *testing.T) {
	for n := 3; n <= 9; n++ {
		nodes := nodeNames(n)
		majority := n/2 + 1
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			g := IsolateOne(nodes, "n2")
			symmetric(t, g)
			if got := g.Sees(nodes, "n2"); len(got) != 1 {
				t.Errorf("isolated node sees %v", got)
			}
			if got := g.Sees(nodes, "n1"); len(got) != n-1 {
				t.Errorf("n1 sees %v, want all but n2", got)
			}

			g = Halves(nodes)
			symmetric(t, g)
			small, big := g.Sees(nodes, nodes[0]), g.Sees(nodes, nodes[n-1])
			if len(small) != n/2 || len(big) != n-n/2 || n%2 == 1 && len(big) < majority {
				t.Errorf("halves: %v | %v", small, big)
			}

			g = Bridge(nodes)
			symmetric(t, g)
			mid := nodes[n/2]
			if got := g.Sees(nodes, mid); len(got) != n {
				t.Errorf("the bridge %s sees %v, want everyone", mid, got)
			}
			left, right := g.Sees(nodes, nodes[0]), g.Sees(nodes, nodes[n-1])
			if slices.Contains(left, nodes[n-1]) || !slices.Contains(left, mid) || !slices.Contains(right, mid) {
				t.Errorf("bridge: %v and %v", left, right)
			}
			if n%2 == 1 && (len(left) < majority || len(right) < majority) {
				t.Errorf("bridge with odd n: both sides with the bridge must be majorities: %v, %v", left, right)
			}

			g = MajoritiesRing(nodes)
			symmetric(t, g)
			if n < 4 {
				if len(g) != 0 {
					t.Errorf("ring of %d cut something: %s", n, g)
				}
				return
			}
			views := map[string]bool{}
			for _, nd := range nodes {
				sees := g.Sees(nodes, nd)
				if len(sees) < majority || len(sees) == n {
					t.Errorf("ring: %s sees %v (majority %d of %d)", nd, sees, majority, n)
				}
				views[strings.Join(sees, ",")] = true
			}
			if len(views) != n {
				t.Errorf("ring: %d distinct views among %d nodes", len(views), n)
			}
		})
	}
}

func TestDropRules(t *testing.T) {
	all := dropRules(partitionTable, []string{"10.213.5.12", "10.213.5.13"}, 100)
	for _, want := range []string{
		"table inet cassnet_partition", "hook input", "hook output",
		"meta l4proto { tcp, udp } ip saddr { 10.213.5.12, 10.213.5.13 } drop",
		"meta l4proto { tcp, udp } ip daddr { 10.213.5.12, 10.213.5.13 } drop",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("rules lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, ".1 ") || strings.Contains(all, ".1,") || strings.Contains(all, "numgen") {
		t.Errorf("unexpected match in full partition rules:\n%s", all)
	}
	if some := dropRules(lossTable, []string{"10.0.0.2"}, 30); !strings.Contains(some, "numgen random mod 100 < 30 drop") {
		t.Errorf("loss rules:\n%s", some)
	}
}

func TestParseFaults(t *testing.T) {
	fs, err := ParseFaults("kill, pause,partition-halves")
	if err != nil || len(fs) != 3 || fs[2].Name() != "partition-halves" {
		t.Fatalf("ParseFaults: %v %v", fs, err)
	}
	if all, _ := ParseFaults("all"); len(all) != len(FaultNames()) {
		t.Errorf("all gives %d faults", len(all))
	}
	if _, err := ParseFaults("kill,earthquake"); err == nil {
		t.Error("an unknown fault was accepted")
	}
	// Network faults say why they cannot run without namespaces.
	env := &FaultEnv{Cluster: &Cluster{}}
	for _, name := range []string{"partition-one", "netem", "loss"} {
		f, _ := NewFault(name)
		if err := f.Available(env); err == nil || !strings.Contains(err.Error(), "network namespaces") {
			t.Errorf("%s without netns: %v", name, err)
		}
	}
}

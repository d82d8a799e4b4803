package testnet

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Grudge says, for each node, which nodes it must not exchange packets
// with. The shapes below are Jepsen's; every one is symmetric (if a cuts
// b, b cuts a). Nodes are names; the caller shuffles them first so the
// seed decides who lands where.
type Grudge map[string][]string

// cut records that a and b cannot talk, both ways.
func (g Grudge) cut(a, b string) {
	if !slices.Contains(g[a], b) {
		g[a] = append(g[a], b)
	}
	if !slices.Contains(g[b], a) {
		g[b] = append(g[b], a)
	}
}

// cutAll cuts every node of xs from every node of ys.
func (g Grudge) cutAll(xs, ys []string) {
	for _, x := range xs {
		for _, y := range ys {
			g.cut(x, y)
		}
	}
}

// String describes the grudge for a report: "n1-x-{n2 n3}; ...".
func (g Grudge) String() string {
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := slices.Clone(g[k])
		sort.Strings(v)
		parts = append(parts, fmt.Sprintf("%s-x-{%s}", k, strings.Join(v, " ")))
	}
	return strings.Join(parts, "; ")
}

// IsolateOne cuts one node from all others.
func IsolateOne(nodes []string, one string) Grudge {
	g := Grudge{}
	for _, n := range nodes {
		if n != one {
			g.cut(one, n)
		}
	}
	return g
}

// Halves splits nodes into a minority (the first n/2) and a majority
// (the rest) that cannot reach each other.
func Halves(nodes []string) Grudge {
	g := Grudge{}
	m := len(nodes) / 2
	g.cutAll(nodes[:m], nodes[m:])
	return g
}

// Bridge splits nodes into two halves that share one node, the bridge,
// which reaches everyone; the halves cannot reach each other. With five
// nodes: {a b} c {d e}, where c sees all, and both {a b c} and {c d e}
// are majorities.
func Bridge(nodes []string) Grudge {
	g := Grudge{}
	if len(nodes) < 3 {
		return g
	}
	m := len(nodes) / 2
	g.cutAll(nodes[:m], nodes[m+1:])
	return g
}

// MajoritiesRing puts the nodes on a ring; each one reaches only the
// nodes within ring distance k, where k is the smallest distance that
// still gives every node a majority (itself included). Every node sees a
// majority, but no two nodes see the same one. It needs at least four
// nodes; with fewer it cuts nothing.
func MajoritiesRing(nodes []string) Grudge {
	g := Grudge{}
	n := len(nodes)
	if n < 4 {
		return g
	}
	majority := n/2 + 1
	k := majority / 2 // neighbours on each side: 2k+1 >= majority
	for i := range nodes {
		for j := i + 1; j < n; j++ {
			d := min(j-i, n-(j-i))
			if d > k {
				g.cut(nodes[i], nodes[j])
			}
		}
	}
	return g
}

// Sees is the set of nodes a node can reach under g, itself included.
func (g Grudge) Sees(nodes []string, node string) []string {
	var out []string
	for _, n := range nodes {
		if n == node || !slices.Contains(g[node], n) {
			out = append(out, n)
		}
	}
	return out
}

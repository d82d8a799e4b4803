package mesh

import (
	"slices"
	"strings"
)

// EncodeLabels encodes node labels as Meta.Labels: "k=v" pairs in key
// order, joined by commas. Keys and values must not contain '=' or ','
// (label syntax never does).
func EncodeLabels(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
	}
	return b.String()
}

// LabelMap decodes Meta.Labels; malformed pairs are skipped.
func (m Meta) LabelMap() map[string]string {
	out := map[string]string{}
	if m.Labels == "" {
		return out
	}
	for _, kv := range strings.Split(m.Labels, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			out[k] = v
		}
	}
	return out
}

package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode"
)

// rowsOf finds the rows in an answer: answer[list] when list is set, the
// answer itself when it is an array, else the one object.
func rowsOf(answer any, list string) []map[string]any {
	if m, ok := answer.(map[string]any); ok && list != "" {
		answer = m[list]
	}
	var rows []map[string]any
	switch a := answer.(type) {
	case []any:
		for _, r := range a {
			if m, ok := r.(map[string]any); ok {
				rows = append(rows, m)
			}
		}
	case map[string]any:
		rows = append(rows, a)
	}
	return rows
}

// lookup follows a dotted key ("ban.reason") into a row.
func lookup(row map[string]any, key string) any {
	var v any = row
	for part := range strings.SplitSeq(key, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// cell formats one value for a table.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		if x == "" {
			return "-"
		}
		return clean(x)
	case float64:
		if x == float64(int64(x)) {
			return itoa(int(x))
		}
		return fmt.Sprintf("%g", x)
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, clean(k)+"="+cell(x[k]))
		}
		if len(parts) == 0 {
			return "-"
		}
		return strings.Join(parts, ",")
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, cell(e))
		}
		return strings.Join(parts, ",")
	}
	return clean(fmt.Sprint(v))
}

// clean escapes control characters (terminal escape sequences, tabs and
// newlines that would break the table) in text players may have typed.
func clean(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func printTable(w io.Writer, cols []col, rows []map[string]any) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	titles := make([]string, len(cols))
	for i, c := range cols {
		titles[i] = c.title
	}
	fmt.Fprintln(tw, strings.Join(titles, "\t"))
	for _, r := range rows {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = cell(lookup(r, c.key))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

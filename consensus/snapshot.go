package consensus

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/hashicorp/raft"
)

// Snapshot container versions. The container is one JSON object:
//
//   - version 1 and 2 (the first release): {"version":2,"index":N, ...}
//     with every list at the top level ("tenants", "bans", ...). Each key
//     belongs to exactly one module.
//   - version 3: {"version":3,"index":N,"sections":{"<module>":{...}}},
//     each module's keys inside its own section.
//
// A node writes version 2 while the cluster's state version is the
// initial one, so that a node of the first release that receives the
// snapshot during a rolling upgrade can still restore it, and version 3
// from then on. It reads all three, and refuses any other version, or a
// section no module of this node owns, with an error that names it.
const (
	snapshotVersionFlat     = 2
	snapshotVersionSections = 3
)

// fsmSnapshot is a capture waiting to be persisted.
type fsmSnapshot struct {
	c *capture
}

// Persist encodes the capture into sink, closing it on success and
// cancelling it on failure.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.c.write(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release drops the capture.
func (s *fsmSnapshot) Release() { s.c = nil }

// write encodes the capture as one JSON object, streaming each list.
func (c *capture) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	version := c.containerVersion()
	bw.WriteString(`{"version":` + strconv.Itoa(version) + `,"index":` + strconv.FormatUint(c.index, 10))
	if version == snapshotVersionFlat {
		sw := &SectionWriter{bw: bw, enc: json.NewEncoder(bw), n: 1}
		for i, s := range c.sections {
			if err := s.Write(sw); err != nil {
				return fmt.Errorf("section %s: %w", c.names[i], err)
			}
		}
	} else {
		bw.WriteString(`,"sections":{`)
		for i, s := range c.sections {
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString(strconv.Quote(c.names[i]) + ":{")
			if err := s.Write(&SectionWriter{bw: bw, enc: json.NewEncoder(bw)}); err != nil {
				return fmt.Errorf("section %s: %w", c.names[i], err)
			}
			bw.WriteByte('}')
		}
		bw.WriteByte('}')
	}
	bw.WriteString("}\n")
	return bw.Flush() // bufio errors are sticky, so this reports any write error
}

// SectionWriter writes one module's keys into a snapshot.
type SectionWriter struct {
	bw  *bufio.Writer
	enc *json.Encoder
	n   int // keys written into the enclosing object so far
}

func (w *SectionWriter) key(k string) {
	if w.n > 0 {
		w.bw.WriteByte(',')
	}
	w.n++
	w.bw.WriteString(strconv.Quote(k) + ":")
}

// Value writes one JSON value under key.
func (w *SectionWriter) Value(key string, v any) error {
	w.key(key)
	if err := w.enc.Encode(v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// WriteList writes items as a JSON array under key, one element at a
// time, so that a large list needs no second copy of itself as JSON.
func WriteList[T any](w *SectionWriter, key string, items []T) error {
	w.key(key)
	w.bw.WriteByte('[')
	for i := range items {
		if i > 0 {
			w.bw.WriteByte(',')
		}
		if err := w.enc.Encode(&items[i]); err != nil {
			return fmt.Errorf("%s[%d]: %w", key, i, err)
		}
	}
	w.bw.WriteByte(']')
	return nil
}

// snapshotRead is a decoded container: the index and each module's keys.
type snapshotRead struct {
	version int
	index   uint64
	sources map[string]SectionSource
}

// readSnapshot decodes a container of any version this node reads and
// hands each module its keys.
func readSnapshot(r io.Reader, modules []Module) (*snapshotRead, error) {
	var top map[string]json.RawMessage
	if err := json.NewDecoder(bufio.NewReaderSize(r, 64<<10)).Decode(&top); err != nil {
		return nil, fmt.Errorf("restore snapshot: decode: %w", err)
	}
	var s snapshotRead
	if err := json.Unmarshal(top["version"], &s.version); err != nil {
		return nil, fmt.Errorf("restore snapshot: version: %w", err)
	}
	if err := json.Unmarshal(top["index"], &s.index); err != nil {
		return nil, fmt.Errorf("restore snapshot: index: %w", err)
	}
	s.sources = make(map[string]SectionSource, len(modules))
	switch s.version {
	case 1, snapshotVersionFlat:
		for _, m := range modules {
			s.sources[m.Name()] = top
		}
	case snapshotVersionSections:
		var sections map[string]SectionSource
		if err := json.Unmarshal(top["sections"], &sections); err != nil {
			return nil, fmt.Errorf("restore snapshot: sections: %w", err)
		}
		known := make(map[string]bool, len(modules))
		for _, m := range modules {
			known[m.Name()] = true
			s.sources[m.Name()] = sections[m.Name()]
		}
		for name := range sections {
			if !known[name] {
				return nil, fmt.Errorf("restore snapshot: section %q is not one this node knows; it was written by a newer version: upgrade this node", name)
			}
		}
	default:
		return nil, fmt.Errorf("restore snapshot: unknown snapshot version %d (this node reads 1 to %d): upgrade this node", s.version, snapshotVersionSections)
	}
	return &s, nil
}

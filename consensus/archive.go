package consensus

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// A snapshot archive is what `cassnet snapshot save` writes: a backup of
// the whole replicated state, outside any data dir. It is three parts:
//
//	{"magic":"cassnet-snapshot","format":1,"cluster_id":...,"index":...}\n   header, one JSON line
//	{"version":3,"index":...,"sections":{...}}\n                               body: the snapshot container (snapshot.go)
//	SHA256 <64 hex digits>\n                                                    trailer: over header and body
//
// The body is exactly what FSM.Snapshot persists, so restoring it is what
// raft does with any snapshot. The checksum catches a truncated or
// altered file; the cluster ID catches restoring one cluster's backup
// into another by mistake; the format number lets a later release change
// the layout and older ones refuse it by name.
const (
	// ArchiveFormat is the archive layout this node writes and reads.
	ArchiveFormat = 1
	archiveMagic  = "cassnet-snapshot"
	trailerPrefix = "SHA256 "
	trailerLen    = len(trailerPrefix) + 2*sha256.Size + 1
	// MaxArchiveHeader bounds the header line.
	MaxArchiveHeader = 1 << 20
)

// ArchiveMeta is an archive's header.
type ArchiveMeta struct {
	Magic  string `json:"magic"`
	Format int    `json:"format"`
	// ClusterID names the cluster the snapshot was taken from (the node
	// passes its CA fingerprint, which every member shares).
	ClusterID string `json:"cluster_id"`
	// Index is the last command index the state includes; Term is the
	// Raft term when it was taken.
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	// StateVersion is the replicated state version of the state, and
	// SnapshotVersion the container version of the body.
	StateVersion    uint32 `json:"state_version"`
	SnapshotVersion int    `json:"snapshot_version"`
	// StateHash is FSM.Hash of the state.
	StateHash string    `json:"state_hash"`
	Node      string    `json:"node"`
	Created   time.Time `json:"created"`
	// Counts are the items per module and kind (FSM.Counts).
	Counts map[string]map[string]int `json:"counts"`
}

// Archive is a parsed, checksum-verified archive.
type Archive struct {
	Meta ArchiveMeta
	// Body is the snapshot container.
	Body []byte
	// Size is the archive's size in bytes, and SHA256 its checksum.
	Size   int64
	SHA256 string
}

// ErrCorruptArchive is wrapped by every error about an archive that is
// not one: truncated, altered, or not a snapshot at all.
var ErrCorruptArchive = errors.New("corrupt snapshot archive")

// WriteArchive writes the FSM's current state as an archive, with meta's
// ClusterID, Term and Node. It captures at once (see Snapshot) and
// encodes outside any lock.
func (f *FSM) WriteArchive(w io.Writer, meta ArchiveMeta) (ArchiveMeta, error) {
	return writeArchive(w, f.capture(), meta)
}

// writeArchive writes c as an archive with meta's identity fields.
func writeArchive(w io.Writer, c *capture, meta ArchiveMeta) (ArchiveMeta, error) {
	meta.Magic, meta.Format = archiveMagic, ArchiveFormat
	meta.Index, meta.StateVersion = c.index, c.version
	meta.SnapshotVersion = c.containerVersion()
	meta.StateHash = c.hash()
	meta.Counts = c.counts()
	if meta.Created.IsZero() {
		meta.Created = time.Now().UTC()
	}
	head, err := json.Marshal(meta)
	if err != nil {
		return meta, fmt.Errorf("snapshot header: %w", err)
	}
	sum := sha256.New()
	mw := io.MultiWriter(w, sum)
	if _, err := mw.Write(append(head, '\n')); err != nil {
		return meta, fmt.Errorf("write snapshot: %w", err)
	}
	if err := c.write(mw); err != nil {
		return meta, fmt.Errorf("write snapshot: %w", err)
	}
	if _, err := io.WriteString(w, trailerPrefix+hex.EncodeToString(sum.Sum(nil))+"\n"); err != nil {
		return meta, fmt.Errorf("write snapshot: %w", err)
	}
	return meta, nil
}

// ReadArchive reads and verifies an archive of at most max bytes: its
// checksum, its magic and its format. It does not decode the body; see
// InspectArchive.
func ReadArchive(r io.Reader, max int64) (*Archive, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("snapshot is larger than %d bytes", max)
	}
	return ParseArchive(data)
}

// ParseArchive verifies and splits an archive held in memory.
func ParseArchive(data []byte) (*Archive, error) {
	if len(data) < trailerLen+2 {
		return nil, fmt.Errorf("%w: only %d bytes", ErrCorruptArchive, len(data))
	}
	content, trailer := data[:len(data)-trailerLen], data[len(data)-trailerLen:]
	if !bytes.HasPrefix(trailer, []byte(trailerPrefix)) || trailer[trailerLen-1] != '\n' {
		return nil, fmt.Errorf("%w: no checksum trailer (truncated, or not a cassnet snapshot)", ErrCorruptArchive)
	}
	want := string(trailer[len(trailerPrefix) : trailerLen-1])
	if sha256Hex(content) != want {
		return nil, fmt.Errorf("%w: checksum mismatch (the file was altered or damaged)", ErrCorruptArchive)
	}
	nl := bytes.IndexByte(content, '\n')
	if nl < 0 || nl > MaxArchiveHeader {
		return nil, fmt.Errorf("%w: no header line", ErrCorruptArchive)
	}
	a := &Archive{Body: content[nl+1:], Size: int64(len(data)), SHA256: want}
	if err := json.Unmarshal(content[:nl], &a.Meta); err != nil || a.Meta.Magic != archiveMagic {
		return nil, fmt.Errorf("%w: not a cassnet snapshot header", ErrCorruptArchive)
	}
	if a.Meta.Format != ArchiveFormat {
		return nil, fmt.Errorf("unknown snapshot format %d (this node reads format %d): use a cassnet release that wrote it", a.Meta.Format, ArchiveFormat)
	}
	return a, nil
}

// InspectArchive restores a's body into a scratch state machine over
// modules (fresh and empty; they are consumed) and reports what it holds:
// the counts per module and the state hash, which must match the header's.
// It is also the check run before a restore, since raft cannot undo a
// restore that fails half-way.
func InspectArchive(a *Archive, modules []Module) (hash string, counts map[string]map[string]int, err error) {
	f, err := NewFSM(modules, nil)
	if err != nil {
		return "", nil, err
	}
	if err := f.Restore(io.NopCloser(bufio.NewReader(bytes.NewReader(a.Body)))); err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrCorruptArchive, err)
	}
	hash = f.Hash()
	if a.Meta.StateHash != "" && hash != a.Meta.StateHash {
		return hash, nil, fmt.Errorf("%w: state hash %s differs from the header's %s", ErrCorruptArchive, hash, a.Meta.StateHash)
	}
	return hash, f.Counts(), nil
}

// containerVersion is the container version write uses for c.
func (c *capture) containerVersion() int {
	if c.version <= StateVersionInitial {
		return snapshotVersionFlat
	}
	return snapshotVersionSections
}

func (c *capture) counts() map[string]map[string]int {
	out := make(map[string]map[string]int, len(c.names))
	for i, name := range c.names {
		out[name] = c.sections[i].Counts()
	}
	return out
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

package mesh

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// peersWriteDelay is how long the set of known peers must stay unchanged
// before it is written, so that a burst of membership events (a cluster
// starting, a partition) costs one write.
const peersWriteDelay = time.Second

// peersFileHeader starts every peers file.
const peersFileHeader = "# cassnet mesh peers: gossip host:port, one per line. Written by the node; safe to delete.\n"

// readPeersFile returns the addresses in a peers file. A missing file is
// no peers. Blank lines, comments (#) and lines that are not host:port are
// skipped; the latter are logged.
func readPeersFile(path string, log *slog.Logger) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mesh: read peers file: %w", err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := checkHostPort(line); err != nil {
			log.Warn("mesh: skipping bad line in peers file", "path", path, "err", err)
			continue
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// writePeersFile replaces path with addrs, atomically: it writes a 0600
// temporary file in the same directory, syncs it and renames it over path,
// so a crash leaves either the old file or the new one.
func writePeersFile(path string, addrs []string) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("mesh: write peers file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	var buf bytes.Buffer
	buf.WriteString(peersFileHeader)
	for _, a := range addrs {
		buf.WriteString(a)
		buf.WriteByte('\n')
	}
	if err = tmp.Chmod(0o600); err == nil {
		if _, err = tmp.Write(buf.Bytes()); err == nil {
			err = tmp.Sync()
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mesh: write peers file: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("mesh: write peers file: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil { // make the rename durable; best effort
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// peerStore debounces writes of the peers file. It is used by one
// goroutine at a time (the maintenance loop, then Shutdown after it).
type peerStore struct {
	path string
	log  *slog.Logger

	written      []string // what the file holds (or held when loaded)
	pending      []string // last set seen, not yet written
	pendingSince time.Time
}

// observe takes the current set of peer addresses (sorted). It writes
// the file once the set has differed from the file's and stayed the same
// for peersWriteDelay, or at once if force is set.
func (p *peerStore) observe(now time.Time, addrs []string, force bool) {
	if p.path == "" {
		return
	}
	if slices.Equal(addrs, p.written) {
		p.pending = nil
		return
	}
	if !slices.Equal(addrs, p.pending) || p.pendingSince.IsZero() {
		p.pending = addrs
		p.pendingSince = now
	}
	if !force && now.Sub(p.pendingSince) < peersWriteDelay {
		return
	}
	if err := writePeersFile(p.path, addrs); err != nil {
		p.log.Warn("mesh: could not persist peers; will retry", "err", err)
		return
	}
	p.log.Debug("mesh: persisted peers", "path", p.path, "peers", len(addrs))
	p.written, p.pending, p.pendingSince = addrs, nil, time.Time{}
}

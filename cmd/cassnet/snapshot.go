package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state"
)

const snapshotUsage = `Usage: cassnet snapshot save FILE [flags]
       cassnet snapshot inspect FILE [--json]
       cassnet snapshot restore FILE [--force] [flags]

save writes a snapshot archive of the whole replicated state, taken after
a consistent read (every write acknowledged before it is in it), with its
format version, the cluster's ID and a SHA-256 checksum.
inspect verifies a file offline and prints its index, term, size,
versions, state hash and the items per domain.
restore replaces the state of the running cluster the node belongs to
with the archive's, on every node (through the leader; raft installs it
on the followers). It refuses a corrupt file, an unknown format, and an
archive of another cluster unless --force. save and restore need an
operator token. See docs/operations.md#snapshots.`

// maxSnapshotFile bounds an archive the CLI reads.
const maxSnapshotFile = 4 << 30

func runSnapshot(args []string) error {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, snapshotUsage)
		return errors.New("snapshot: expected save, inspect or restore")
	}
	verb, rest := args[0], args[1:]
	file := ""
	switch {
	case len(rest) > 0 && !strings.HasPrefix(rest[0], "-"):
		file, rest = rest[0], rest[1:]
	case len(rest) > 0 && !strings.HasPrefix(rest[len(rest)-1], "-"):
		file, rest = rest[len(rest)-1], rest[:len(rest)-1]
	}
	var c clientFlags
	fs := flag.NewFlagSet("snapshot "+verb, flag.ContinueOnError)
	fs.Usage = flagUsage(fs, snapshotUsage)
	c.register(fs)
	force := fs.Bool("force", false, "restore: restore an archive of another cluster")
	asJSON := fs.Bool("json", false, "inspect: print the header and counts as JSON")
	if _, err := parseWithEnv(fs, rest); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if file == "" {
		return fmt.Errorf("snapshot %s: FILE is required", verb)
	}
	switch verb {
	case "save":
		return saveSnapshot(&c, file)
	case "inspect":
		return inspectSnapshot(file, *asJSON)
	case "restore":
		return restoreSnapshot(&c, file, *force)
	}
	return fmt.Errorf("snapshot: unknown command %q (save, inspect, restore)", verb)
}

func saveSnapshot(c *clientFlags, file string) error {
	resp, err := c.send(http.MethodGet, "/v1/cluster/snapshot", nil, "", 5*time.Minute)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return fmt.Errorf("snapshot save: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxSnapshotFile+1))
	if err != nil {
		return fmt.Errorf("snapshot save: %w", err)
	}
	a, err := consensus.ParseArchive(data) // never keep a damaged download
	if err != nil {
		return fmt.Errorf("snapshot save: the node sent a bad archive: %w", err)
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("snapshot save: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("snapshot save: %w", err)
	}
	fmt.Printf("saved %s: index %d, term %d, %d bytes, cluster %s\n", file, a.Meta.Index, a.Meta.Term, a.Size, a.Meta.ClusterID)
	return nil
}

// readSnapshotFile reads and verifies an archive and restores it into a
// scratch state, returning the counts it holds.
func readSnapshotFile(file string) (*consensus.Archive, map[string]map[string]int, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	a, err := consensus.ReadArchive(f, maxSnapshotFile)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", filepath.Base(file), err)
	}
	_, counts, err := consensus.InspectArchive(a, state.New().Modules())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", filepath.Base(file), err)
	}
	return a, counts, nil
}

func inspectSnapshot(file string, asJSON bool) error {
	a, counts, err := readSnapshotFile(file)
	if err != nil {
		return err
	}
	if asJSON {
		out := struct {
			consensus.ArchiveMeta
			Size   int64  `json:"size"`
			SHA256 string `json:"sha256"`
		}{a.Meta, a.Size, a.SHA256}
		out.Counts = counts
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		fmt.Println(string(b))
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	m := a.Meta
	for _, row := range [][2]string{
		{"Cluster ID", m.ClusterID}, {"Index", fmt.Sprint(m.Index)}, {"Term", fmt.Sprint(m.Term)},
		{"Size", fmt.Sprintf("%d bytes", a.Size)}, {"Format", fmt.Sprint(m.Format)},
		{"Snapshot version", fmt.Sprint(m.SnapshotVersion)}, {"State version", fmt.Sprint(m.StateVersion)},
		{"State hash", m.StateHash}, {"SHA-256", a.SHA256}, {"Created", m.Created.Format(time.RFC3339)}, {"Node", m.Node},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	fmt.Fprintln(tw, "\nDomain\tKind\tCount")
	modules := make([]string, 0, len(counts))
	for name := range counts {
		modules = append(modules, name)
	}
	sort.Strings(modules)
	for _, name := range modules {
		kinds := make([]string, 0, len(counts[name]))
		for k := range counts[name] {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", name, k, counts[name][k])
		}
	}
	return tw.Flush()
}

func restoreSnapshot(c *clientFlags, file string, force bool) error {
	a, _, err := readSnapshotFile(file) // refuse a bad file before sending it
	if err != nil {
		return fmt.Errorf("snapshot restore: %w", err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	path := "/v1/cluster/snapshot"
	if force {
		path += "?force"
	}
	resp, err := c.send(http.MethodPut, path, bytes.NewReader(data), "application/octet-stream", 5*time.Minute)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("snapshot restore: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	fmt.Printf("restored %s: index %d, state hash %s, cluster %s\n", file, a.Meta.Index, a.Meta.StateHash, a.Meta.ClusterID)
	return nil
}

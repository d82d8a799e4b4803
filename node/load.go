package node

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cassandranet/cassnet/mesh"
)

// loadInterval is how often the node measures its CPU and memory use and,
// when either moved by loadStep points or more, re-gossips its meta.
const (
	loadInterval = 5 * time.Second
	loadStep     = 3
)

// cpuTimes is the aggregate line of /proc/stat: busy and total jiffies.
type cpuTimes struct{ busy, total uint64 }

func readCPU() (cpuTimes, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read cpu: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return cpuTimes{}, fmt.Errorf("read cpu: empty /proc/stat")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return cpuTimes{}, fmt.Errorf("read cpu: unexpected line %q", sc.Text())
	}
	var t cpuTimes
	for i, f := range fields[1:] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("read cpu: %w", err)
		}
		t.total += v
		if i != 3 && i != 4 { // idle and iowait
			t.busy += v
		}
	}
	return t, nil
}

// readMemory is the share of memory in use: 1 - MemAvailable/MemTotal.
func readMemory() (uint8, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("read memory: %w", err)
	}
	defer f.Close()
	var total, avail uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, _ := strings.Cut(sc.Text(), ":")
		v, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		switch name {
		case "MemTotal":
			total = v
		case "MemAvailable":
			avail = v
		}
	}
	if total == 0 || avail > total {
		return 0, fmt.Errorf("read memory: no MemTotal/MemAvailable")
	}
	return uint8((total - avail) * 100 / total), nil
}

func percent(busy, total uint64) uint8 {
	if total == 0 {
		return 0
	}
	return uint8(min(100, busy*100/total))
}

func moved(a, b uint8) bool { return max(a, b)-min(a, b) >= loadStep }

// shareLoad measures the machine every loadInterval and gossips the load
// in the node's meta when it changed noticeably, until ctx ends. On
// systems without /proc it logs once and stops.
func (n *Node) shareLoad(ctx context.Context) {
	prev, err := readCPU()
	if err != nil {
		n.logger.Info("node load is not shared: cannot read /proc", "err", err)
		return
	}
	var sent mesh.Load
	t := time.NewTicker(loadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur, err := readCPU()
		if err != nil {
			continue
		}
		mem, err := readMemory()
		if err != nil {
			continue
		}
		load := mesh.Load{CPU: percent(cur.busy-prev.busy, cur.total-prev.total), Memory: mem}
		prev = cur
		if load.CPU == 0 {
			load.CPU = 1 // zero means "not measured"
		}
		if !moved(load.CPU, sent.CPU) && !moved(load.Memory, sent.Memory) {
			continue
		}
		meta := n.mesh.Local().Meta
		meta.Load = load
		uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := n.mesh.UpdateMeta(uctx, meta); err != nil {
			n.logger.Debug("sharing node load", "err", err)
		} else {
			sent = load
		}
		cancel()
	}
}

package supervisor

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

var pageSize = uint64(os.Getpagesize())

// groupUsage is the summed usage of the live processes of one process group.
type groupUsage struct {
	ticks uint64 // utime + stime
	rss   uint64 // bytes
	live  int    // processes that are not zombies
}

// procStat parses /proc/<pid>/stat: state, pgrp, utime+stime, rss pages.
func procStat(b []byte) (state byte, pgrp int, ticks, rss uint64, ok bool) {
	i := bytes.LastIndexByte(b, ')') // comm may hold spaces and parentheses
	if i < 0 || i+2 >= len(b) {
		return 0, 0, 0, 0, false
	}
	f := bytes.Fields(b[i+2:]) // f[0] is field 3 (state)
	if len(f) < 22 {
		return 0, 0, 0, 0, false
	}
	p, err1 := strconv.Atoi(string(f[2]))
	ut, err2 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err3 := strconv.ParseUint(string(f[12]), 10, 64)
	rs, err4 := strconv.ParseInt(string(f[21]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(f[0]) != 1 {
		return 0, 0, 0, 0, false
	}
	return f[0][0], p, ut + st, uint64(max(rs, 0)), true
}

// scanGroups reads /proc once and sums usage per process group among
// wanted. One pass serves every server.
func scanGroups(wanted map[int]bool) map[int]groupUsage {
	out := map[int]groupUsage{}
	d, err := os.Open("/proc")
	if err != nil {
		return out
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	for _, n := range names {
		if n[0] < '0' || n[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + n + "/stat")
		if err != nil {
			continue
		}
		state, pgrp, ticks, rss, ok := procStat(b)
		if !ok || !wanted[pgrp] || state == 'Z' || state == 'X' {
			continue
		}
		u := out[pgrp]
		u.ticks += ticks
		u.rss += rss * pageSize
		u.live++
		out[pgrp] = u
	}
	return out
}

// groupGone reports whether process group pgid has no live member left
// (zombies do not count: their parent may not be ours to reap).
func groupGone(pgid int) bool {
	if pgid <= 1 {
		return true
	}
	if err := syscall.Kill(-pgid, 0); err == syscall.ESRCH {
		return true
	}
	return scanGroups(map[int]bool{pgid: true})[pgid].live == 0
}

// waitGroupGone polls until the group is gone or the deadline passes,
// every 5 ms at first and backing off to 200 ms (a full /proc pass is
// only needed while zombies keep the group id alive).
func waitGroupGone(pgid int, deadline time.Time) bool {
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		if groupGone(pgid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(min(wait, max(time.Until(deadline), time.Millisecond)))
	}
}

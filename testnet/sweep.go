package testnet

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// Sweep deletes the namespaces of earlier runs that were never cleaned
// up (a test binary killed by its timeout cannot run its t.Cleanup). A
// run's namespaces are deleted only when the process that created them is
// gone; agents still running inside them (which their Pdeathsig should
// already have killed) are killed first. Networks of `cassnet testnet up`
// have another prefix and are never swept.
func Sweep(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	if err != nil {
		return fmt.Errorf("sweep: list namespaces: %w", err)
	}
	runs := map[string][]string{} // "cnt-<pid>-<runid>" -> namespaces
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		run, ok := runOf(name)
		if ok {
			runs[run] = append(runs[run], name)
		}
	}
	var errs []error
	for run, names := range runs {
		if !staleRun(run) {
			continue
		}
		for _, ns := range names {
			killInside(ctx, ns)
		}
		for _, ns := range names {
			if err := runCmd(ctx, nil, "ip", "netns", "delete", ns); err != nil {
				errs = append(errs, err)
			}
		}
		parts := strings.Split(run, "-")
		_ = runCmd(ctx, nil, "ip", "link", "delete", "cn"+parts[len(parts)-1]+"h")
	}
	return errors.Join(errs...)
}

// runOf returns the run part "cnt-<pid>-<runid>" of a namespace name made
// by this package.
func runOf(ns string) (string, bool) {
	rest, ok := strings.CutPrefix(ns, nsPrefix)
	if !ok {
		return "", false
	}
	parts := strings.SplitN(rest, "-", 3)
	if len(parts) != 3 {
		return "", false
	}
	if _, err := strconv.Atoi(parts[0]); err != nil || len(parts[1]) != 6 {
		return "", false
	}
	return nsPrefix + parts[0] + "-" + parts[1], true
}

// staleRun reports whether run's creator is gone.
func staleRun(run string) bool {
	pid, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(run, nsPrefix), "-")[0])
	return pid > 0 && syscall.Kill(pid, 0) != nil
}

// killInside sends SIGKILL to every process in namespace ns.
func killInside(ctx context.Context, ns string) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGCONT)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

package testnet

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as a tiny echo server and prober that run
// inside a namespace (started with ip netns exec), so the partition test
// needs no other tool.
const (
	helperEnv  = "CASSNET_NETNS_HELPER" // "echo <ip>" or "probe <ip>"
	helperPort = "9000"
)

func TestNetnsHelper(t *testing.T) {
	mode, ip, _ := strings.Cut(os.Getenv(helperEnv), " ")
	switch mode {
	case "echo":
		runEcho(ip)
	case "probe":
		if err := probe(ip); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		os.Exit(0)
	default:
		t.Skip("helper process for TestNetnsPartition")
	}
}

// runEcho answers TCP and UDP on ip:9000 until killed.
func runEcho(ip string) {
	addr := net.JoinHostPort(ip, helperPort)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		os.Exit(2)
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		os.Exit(2)
	}
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(0)
		}
		_, _ = c.Write([]byte("ok"))
		c.Close()
	}
}

// probe reaches ip:9000 over TCP and UDP.
func probe(ip string) error {
	addr := net.JoinHostPort(ip, helperPort)
	for _, network := range []string{"tcp", "udp"} {
		c, err := net.DialTimeout(network, addr, 700*time.Millisecond)
		if err != nil {
			return fmt.Errorf("%s: %w", network, err)
		}
		_ = c.SetDeadline(time.Now().Add(700 * time.Millisecond))
		if network == "udp" {
			_, _ = c.Write([]byte("hi"))
		}
		buf := make([]byte, 8)
		_, err = c.Read(buf)
		c.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", network, err)
		}
	}
	return nil
}

// TestNetnsPartition checks the network itself: nodes reach each other
// over TCP and UDP, a partition rule cuts both, the host address is never
// cut, healing restores traffic, and Close leaves no namespace behind.
func TestNetnsPartition(t *testing.T) {
	if err := NetnsAvailable(); err != nil {
		t.Skipf("network namespaces unavailable: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	net1, err := NewNetns(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = net1.Close(context.Background())
		}
	})
	nsA, ipA, err := net1.AddNode(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	nsB, ipB, err := net1.AddNode(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	echo := exec.Command("ip", "netns", "exec", nsB, self, "-test.run=^TestNetnsHelper$", "-test.short")
	echo.Env = append(os.Environ(), helperEnv+"=echo "+ipB)
	if err := echo.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = echo.Process.Kill(); _ = echo.Wait() })
	reach := func(ns string) error {
		argv := []string{self, "-test.run=^TestNetnsHelper$", "-test.short"}
		if ns != "" {
			argv = append([]string{"ip", "netns", "exec", ns}, argv...)
		}
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), helperEnv+"=probe "+ipB)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	if err := WaitFor(ctx, func() error { return reach(nsA) }); err != nil {
		t.Fatalf("a cannot reach b before any fault: %v", err)
	}
	if err := nftApply(ctx, nsB, dropRules(partitionTable, []string{ipA}, 100)); err != nil {
		t.Fatal(err)
	}
	if err := reach(nsA); err == nil {
		t.Error("a reaches b through the partition")
	}
	if err := reach(""); err != nil {
		t.Errorf("the host lost b during the partition: %v", err)
	}
	for range 2 { // healing twice is harmless
		if err := nftDelete(ctx, nsB, partitionTable); err != nil {
			t.Fatal(err)
		}
	}
	if err := reach(nsA); err != nil {
		t.Errorf("a cannot reach b after the heal: %v", err)
	}
	_ = echo.Process.Kill()
	_ = echo.Wait()
	if err := net1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed = true
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, ns := range []string{nsA, nsB, net1.Hub} {
		if strings.Contains(string(out), ns) {
			t.Errorf("namespace %s left behind", ns)
		}
	}
}

// TestSweepRemovesLeaks: the namespaces of a run whose process is gone,
// and anything still running in them, are removed by the next run.
func TestSweepRemovesLeaks(t *testing.T) {
	if err := NetnsAvailable(); err != nil {
		t.Skipf("network namespaces unavailable: %v", err)
	}
	ctx := context.Background()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	leaked := fmt.Sprintf("%s%d-abcdef-hub", nsPrefix, dead.Process.Pid)
	if err := runCmd(ctx, nil, "ip", "netns", "add", leaked); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runCmd(ctx, nil, "ip", "netns", "delete", leaked) })
	// An agent that outlived its harness, still inside.
	sleeper := exec.Command("ip", "netns", "exec", leaked, "sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sleeper.Wait() }()
	t.Cleanup(func() { _ = sleeper.Process.Kill() })
	mine := fmt.Sprintf("%s%d-fedcba-hub", nsPrefix, os.Getpid())
	if err := runCmd(ctx, nil, "ip", "netns", "add", mine); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runCmd(ctx, nil, "ip", "netns", "delete", mine) })
	if err := Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), leaked) {
		t.Errorf("leaked namespace %s survived the sweep", leaked)
	}
	if !strings.Contains(string(out), mine) {
		t.Errorf("the sweep removed %s, which belongs to a live process", mine)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Error("the process inside the leaked namespace survived the sweep")
	}
}

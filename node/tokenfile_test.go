package node

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// AwaitTokenFile waits for the file to be written; --token and a token
// already in the data dir win over it.
func TestAwaitTokenFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "shared-token")
	cfg := Defaults()
	cfg.DataDir, cfg.TokenFile = filepath.Join(dir, "data"), file
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = writeFileAtomic(file, []byte("CN1::from-file\n"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := AwaitTokenFile(ctx, &cfg); err != nil || cfg.Token != "CN1::from-file" {
		t.Fatalf("token %q, err %v", cfg.Token, err)
	}

	given := Defaults()
	given.DataDir, given.TokenFile, given.Token = cfg.DataDir, filepath.Join(dir, "missing"), "CN1::flag"
	if err := AwaitTokenFile(ctx, &given); err != nil || given.Token != "CN1::flag" {
		t.Fatalf("--token lost: %q, %v", given.Token, err)
	}

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(filepath.Join(cfg.DataDir, joinTokenFile), []byte("CN1::disk\n")); err != nil {
		t.Fatal(err)
	}
	restart := Defaults()
	restart.DataDir, restart.TokenFile = cfg.DataDir, filepath.Join(dir, "missing")
	if err := AwaitTokenFile(ctx, &restart); err != nil || restart.Token != "" {
		t.Fatalf("restart waited for the file or took it: %q, %v", restart.Token, err)
	}

	short, scancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer scancel()
	never := Defaults()
	never.DataDir, never.TokenFile = filepath.Join(dir, "other"), filepath.Join(dir, "missing")
	if err := AwaitTokenFile(short, &never); err == nil || !strings.Contains(err.Error(), "waiting for --token-file") {
		t.Fatalf("err = %v, want a time-out naming the flag", err)
	}
}

func TestResolveAdvertise(t *testing.T) {
	c := Defaults()
	c.Advertise = "localhost"
	if err := c.resolveAdvertise(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.advertiseIP(); got != "127.0.0.1" && got != "::1" {
		t.Fatalf("localhost resolved to %q", got)
	}
	c.Advertise = "10.1.2.3"
	if err := c.resolveAdvertise(context.Background()); err != nil || c.advertiseIP() != "10.1.2.3" {
		t.Fatalf("an IP changed: %q, %v", c.advertiseIP(), err)
	}
	c.Advertise = "no-such-host.invalid"
	if err := c.resolveAdvertise(context.Background()); err == nil || !strings.Contains(err.Error(), "--advertise") {
		t.Fatalf("err = %v", err)
	}
}

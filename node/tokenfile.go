package node

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// tokenFilePoll is how often AwaitTokenFile looks for the file.
const tokenFilePoll = 250 * time.Millisecond

// AwaitTokenFile sets cfg.Token from cfg.TokenFile when the node needs a
// join token and has none: no --token and none in the data dir. It waits
// until the file exists and is not empty, or ctx ends, so nodes started
// together (compose) wait for the bootstrap node to write it
// (--write-join-token). Call it before New.
func AwaitTokenFile(ctx context.Context, cfg *Config) error {
	if cfg.TokenFile == "" || cfg.Token != "" || cfg.DataDir == "" {
		return nil
	}
	if tok, err := readSecretFile(filepath.Join(cfg.DataDir, joinTokenFile)); err != nil || tok != "" {
		return err
	}
	logger := cfg.Logger
	warned := time.Time{}
	for {
		tok, err := readSecretFile(cfg.TokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		if tok != "" {
			cfg.Token = tok
			return nil
		}
		if logger != nil && time.Since(warned) > 10*time.Second {
			logger.Info("waiting for the join token file", "path", cfg.TokenFile)
			warned = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for --token-file %s: %w", cfg.TokenFile, ctx.Err())
		case <-time.After(tokenFilePoll):
		}
	}
}

package node

import (
	"context"
	"path/filepath"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/plugin"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// newPlugins builds the Wasm plugin runtime over the replicated plugin
// registry. Failures are proposed as RecordPluginFailure by this node,
// rate-limited by the runtime.
func (n *Node) newPlugins(ctx context.Context) (*plugin.Runtime, error) {
	return plugin.New(ctx, plugin.Config{
		Source: n.state.Plugins,
		Report: func(ctx context.Context, op *cassnetv1.RecordPluginFailure) error {
			_, err := n.store.Apply(ctx, &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "node:" + n.cfg.Name,
				Op: &cassnetv1.Command_RecordPluginFailure{RecordPluginFailure: op}})
			return err
		},
		Node:        n.cfg.Name,
		CallTimeout: n.cfg.PluginCallTimeout,
		MemoryMiB:   uint32(n.cfg.PluginMemoryMiB),
		Interpreter: n.cfg.PluginInterpreter,
		CacheDir:    filepath.Join(n.cfg.DataDir, "plugin-cache"),
		Logger:      n.logger,
	})
}

// startPlugins runs the runtime's loader until stopPlugins.
func (n *Node) startPlugins(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	n.pluginsCancel, n.pluginsDone = cancel, make(chan struct{})
	go func() {
		defer close(n.pluginsDone)
		if err := n.plugins.Run(ctx); err != nil {
			n.logger.Warn("plugin runtime stopped", "err", err)
		}
	}()
}

func (n *Node) stopPlugins() {
	if n.pluginsCancel == nil {
		return
	}
	n.pluginsCancel()
	<-n.pluginsDone
	_ = n.plugins.Close(context.Background())
}

package node

import (
	"context"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// notifyPoll is how often readiness is checked for systemd.
const notifyPoll = 200 * time.Millisecond

// sdNotify sends state to systemd's notification socket ($NOTIFY_SOCKET,
// set for Type=notify units). Without that socket it does nothing.
func (n *Node) sdNotify(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.logger.Warn("systemd notify failed", "state", state, "err", err)
	}
}

// notifyWhenReady tells systemd READY=1 once the node is ready (it knows
// a leader and has caught up, as GET /v1/ready), so that `systemctl
// start` and `systemctl restart` return only then, and keeps STATUS up to
// date while it waits. It runs until ready or ctx ends; the caller waits
// for it through n.notifyDone.
func (n *Node) notifyWhenReady(ctx context.Context) {
	defer close(n.notifyDone)
	n.sdNotify("STATUS=waiting for a leader and catching up")
	t := time.NewTicker(notifyPoll)
	defer t.Stop()
	for {
		if n.store.Ready() {
			n.sdNotify("READY=1\nSTATUS=ready")
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

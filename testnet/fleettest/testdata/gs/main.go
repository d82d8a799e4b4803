// Command gs is the fleet tests' game server: it registers from the
// CN_* environment on its node's game-server API, goes ready, pings,
// echoes UDP on CN_PORT_GAME, and exits 0 on SIGTERM. With
// GS_MATCH_SECONDS, an allocation starts a match that ends (exit 0)
// after that long. With GS_MARK_DIR, a clean exit leaves a marker file
// saying why and whether the server was allocated then, which the chaos
// checker reads ("no allocated server was killed").
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gs:", err)
		os.Exit(2)
	}
}

func run() error {
	id, node, key := os.Getenv("CN_SERVER_ID"), os.Getenv("CN_NODE"), os.Getenv("CN_KEY")
	port, _ := strconv.Atoi(os.Getenv("CN_PORT_GAME"))
	// Bind the node's own address: the test's nodes share one host on
	// 127.0.0.x, and their supervisors reserve ports independently.
	host, _, _ := net.SplitHostPort(node)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	conn, err := grpc.NewClient(node, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	gs := cassnetv1.NewGameServerServiceClient(conn)
	if port > 0 {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		defer pc.Close()
		go func() {
			buf := make([]byte, 1500)
			for {
				n, addr, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = pc.WriteTo(buf[:n], addr)
			}
		}()
	}
	var ports map[string]uint32
	if port > 0 {
		ports = map[string]uint32{"game": uint32(port)}
	}
	for attempt := 0; ; attempt++ {
		_, err = gs.Register(ctx, &cassnetv1.RegisterRequest{ServerId: id, ProjectId: os.Getenv("CN_PROJECT"),
			Address: host, Ports: ports, Capacity: 8})
		if err == nil || attempt > 50 || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	if _, err := gs.Ready(ctx, &cassnetv1.ReadyRequest{ServerId: id}); err != nil {
		return fmt.Errorf("ready: %w", err)
	}
	fmt.Printf("simple-gameserver %s ready on udp port %d\n", id, port)
	hs, err := gs.Health(ctx)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	allocated := make(chan struct{}, 1)
	if ws, err := gs.WatchEvents(ctx, &cassnetv1.WatchEventsRequest{ServerId: id}); err == nil {
		go func() {
			for {
				ev, err := ws.Recv()
				if err != nil {
					return
				}
				if ev.GetAllocated() != nil {
					select {
					case allocated <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	var matchEnd <-chan time.Time
	inMatch := false
	matchLen, _ := strconv.Atoi(os.Getenv("GS_MATCH_SECONDS"))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Println("simple-gameserver: SIGTERM, shutting down")
			mark(id, "sigterm", inMatch)
			return nil
		case <-allocated:
			fmt.Println("simple-gameserver: allocated, match starts")
			inMatch = true
			if matchLen > 0 && matchEnd == nil {
				matchEnd = time.After(time.Duration(matchLen) * time.Second)
			}
		case <-matchEnd:
			fmt.Println("simple-gameserver: match over")
			mark(id, "match_over", inMatch)
			return nil
		case <-tick.C:
			if err := hs.Send(&cassnetv1.HealthPing{ServerId: id}); err != nil {
				fmt.Fprintln(os.Stderr, "health ping:", err)
			}
		}
	}
}

// mark writes GS_MARK_DIR/<id>.<pid>: why the process ends and whether
// it was in a match.
func mark(id, why string, inMatch bool) {
	dir := os.Getenv("GS_MARK_DIR")
	if dir == "" {
		return
	}
	body := fmt.Sprintf("%s %v %d\n", why, inMatch, time.Now().UnixNano())
	_ = os.WriteFile(filepath.Join(dir, id+"."+strconv.Itoa(os.Getpid())), []byte(body), 0o600)
}

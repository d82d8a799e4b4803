package testnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// EtcdConfig describes an etcd cluster to start as a peer to measure
// cassnet against.
type EtcdConfig struct {
	// Bin is the etcd binary (3.4 or later).
	Bin string
	// Dir holds every member's data dir and log.
	Dir string
	// IPs are the members' addresses, one member each.
	IPs []string
}

// Etcd is an etcd cluster started by this harness.
type Etcd struct {
	members []*etcdMember
	// api is the JSON gateway's path prefix: "/v3" or "/v3beta".
	api string
}

type etcdMember struct {
	name      string
	clientURL string
	cmd       *exec.Cmd
	done      chan struct{}
	logPath   string
}

// Pids are the members' process ids.
func (e *Etcd) Pids() []int {
	pids := make([]int, 0, len(e.members))
	for _, m := range e.members {
		pids = append(pids, m.cmd.Process.Pid)
	}
	return pids
}

// StartEtcd starts one etcd member per IP as a new cluster and waits until
// every member is healthy and the JSON gateway answers. On error it kills
// whatever it started.
func StartEtcd(ctx context.Context, cfg EtcdConfig) (_ *Etcd, err error) {
	if len(cfg.IPs) == 0 {
		return nil, errors.New("etcd: no member addresses")
	}
	tok := make([]byte, 6)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("etcd: cluster token: %w", err)
	}
	type plan struct{ name, ip, dir, client, peer string }
	var plans []plan
	var initial []string
	for i, ip := range cfg.IPs {
		ports, err := FreePorts(ip)
		if err != nil {
			return nil, fmt.Errorf("etcd: %w", err)
		}
		p := plan{
			name: "e" + strconv.Itoa(i+1), ip: ip,
			dir:    filepath.Join(cfg.Dir, "e"+strconv.Itoa(i+1)),
			client: "http://" + net.JoinHostPort(ip, strconv.Itoa(ports.HTTP)),
			peer:   "http://" + net.JoinHostPort(ip, strconv.Itoa(ports.Raft)),
		}
		plans = append(plans, p)
		initial = append(initial, p.name+"="+p.peer)
	}
	e := &Etcd{}
	defer func() {
		if err != nil {
			_ = e.Stop()
		}
	}()
	for _, p := range plans {
		m := &etcdMember{name: p.name, clientURL: p.client, logPath: p.dir + ".log"}
		args := []string{
			"--name", p.name, "--data-dir", p.dir,
			"--listen-client-urls", p.client, "--advertise-client-urls", p.client,
			"--listen-peer-urls", p.peer, "--initial-advertise-peer-urls", p.peer,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new",
			"--initial-cluster-token", "cassnet-bench-" + hex.EncodeToString(tok),
			"--logger", "zap", "--log-level", "warn",
		}
		if err := m.start(cfg.Bin, args); err != nil {
			return nil, err
		}
		e.members = append(e.members, m)
	}
	if err := e.waitHealthy(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// start launches one member in its own process group.
func (m *etcdMember) start(bin string, args []string) error {
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("etcd %s: %w", m.name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start etcd %s: %w", m.name, err)
	}
	m.cmd, m.done = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(m.done)
	}()
	return nil
}

// waitHealthy polls every member's /health, then finds the gateway prefix.
func (e *Etcd) waitHealthy(ctx context.Context) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := WaitFor(wctx, func() error {
		for _, m := range e.members {
			select {
			case <-m.done:
				return fmt.Errorf("etcd %s exited (log: %s)", m.name, m.logPath)
			default:
			}
			status, body, err := etcdDo(wctx, hc, http.MethodGet, m.clientURL+"/health", nil)
			if err != nil {
				return err
			}
			if status != http.StatusOK || !bytes.Contains(body, []byte(`"true"`)) {
				return fmt.Errorf("etcd %s unhealthy: %d %s", m.name, status, body)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("etcd did not become healthy: %w", err)
	}
	probe := []byte(`{"key":"AA=="}`)
	for _, api := range []string{"/v3", "/v3beta"} {
		status, _, err := etcdDo(wctx, hc, http.MethodPost, e.members[0].clientURL+api+"/kv/range", probe)
		if err != nil {
			return fmt.Errorf("etcd gateway probe: %w", err)
		}
		if status == http.StatusOK {
			e.api = api
			return nil
		}
	}
	return errors.New("etcd: neither /v3 nor /v3beta JSON gateway answers")
}

// ClientURLs are the members' client URLs, in IP order.
func (e *Etcd) ClientURLs() []string {
	urls := make([]string, len(e.members))
	for i, m := range e.members {
		urls[i] = m.clientURL
	}
	return urls
}

// GatewayPrefix is the JSON gateway's path prefix, "/v3" or "/v3beta".
func (e *Etcd) GatewayPrefix() string { return e.api }

// Stop kills every member's process group and waits for the members to
// exit. It does not remove their data dirs.
func (e *Etcd) Stop() error {
	var errs []error
	for _, m := range e.members {
		if m.cmd == nil {
			continue
		}
		if err := syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill etcd %s: %w", m.name, err))
		}
		select {
		case <-m.done:
		case <-time.After(10 * time.Second):
			errs = append(errs, fmt.Errorf("etcd %s did not exit", m.name))
		}
	}
	return errors.Join(errs...)
}

// Load returns a Target that puts keys of valueSize-byte values through
// the JSON gateway and reads them back as serializable (member-local,
// possibly stale) range reads. Client i talks to member i % members.
func (e *Etcd) Load(hc *http.Client, valueSize int) *EtcdLoad {
	value := bytes.Repeat([]byte("v"), valueSize)
	return &EtcdLoad{http: hc, urls: e.ClientURLs(), api: e.api, value: base64.StdEncoding.EncodeToString(value)}
}

// EtcdLoad is a Target for an etcd cluster; see Etcd.Load.
type EtcdLoad struct {
	http  *http.Client
	urls  []string
	api   string
	value string // base64
}

// Write puts key ("bench/" + key) and expects 200.
func (l *EtcdLoad) Write(ctx context.Context, client int, key string) error {
	body, err := json.Marshal(struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}{etcdKey(key), l.value})
	if err != nil {
		return err
	}
	return l.expectOK(ctx, client, "/kv/put", body)
}

// Read does a serializable range read of key and expects 200.
func (l *EtcdLoad) Read(ctx context.Context, client int, key string) error {
	body, err := json.Marshal(struct {
		Key          string `json:"key"`
		Serializable bool   `json:"serializable"`
	}{etcdKey(key), true})
	if err != nil {
		return err
	}
	return l.expectOK(ctx, client, "/kv/range", body)
}

func (l *EtcdLoad) expectOK(ctx context.Context, client int, path string, body []byte) error {
	status, resp, err := etcdDo(ctx, l.http, http.MethodPost, l.urls[client%len(l.urls)]+l.api+path, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return &StatusError{Status: status, Body: string(resp)}
	}
	return nil
}

func etcdKey(key string) string { return base64.StdEncoding.EncodeToString([]byte("bench/" + key)) }

// etcdDo sends one request and reads the whole answer, so the connection
// can be reused.
func etcdDo(ctx context.Context, hc *http.Client, method, url string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read %s: %w", url, err)
	}
	return resp.StatusCode, b, nil
}

package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/cassandranet/cassnet/streamclient"
)

// PubSubWorkloadName tags the pubsub workload's operations.
const PubSubWorkloadName = "pubsub"

// PubSubWorkload publishes unique payloads on a few topics from the
// workers (each on its bound node) while Subscribers long-lived SSE
// subscribers, each on a random node, record every event they receive.
// A subscriber whose stream breaks, or that goes away by itself (every
// 2-8 s), reconnects to a random node with its last event id. The subscribers run from Setup until Stop (the
// messaging checker stops them once the cluster has healed and
// deliveries have settled), so messages repaired after the heal count.
type PubSubWorkload struct {
	Tenant string
	// Topics (default 2) and Subscribers per topic (default 2).
	Topics, Subscribers int

	target *WorkTarget
	stop   context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	seq  int
	subs []*Subscriber
}

// PubInput is what a publish asked.
type PubInput struct {
	Topic   string `json:"topic"`
	Payload string `json:"payload"`
}

// PubOutput is the publish's answer: Outcome as for ban writes (a 202 is
// OutOK), and the stream position the origin gave it.
type PubOutput struct {
	Outcome string `json:"outcome"`
	Origin  string `json:"origin,omitempty"`
	Epoch   string `json:"epoch,omitempty"`
	Seq     uint64 `json:"seq,omitempty"`
}

// SubEvent is one event a subscriber received, or one of its connection
// changes (Kind "connect" with Node, "end" with Detail).
type SubEvent struct {
	Kind string `json:"kind"` // message, gap, reset, disconnect, connect, end
	At   int64  `json:"at_ns"`
	Node string `json:"node,omitempty"`
	// message: Origin, Epoch, Seq, Payload; gap: Origin, Epoch, From, To.
	Origin   string `json:"origin,omitempty"`
	Epoch    string `json:"epoch,omitempty"`
	Seq      uint64 `json:"seq,omitempty"`
	From, To uint64 `json:"-"`
	Payload  string `json:"payload,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// Subscriber is one long-lived subscription and what it received.
type Subscriber struct {
	Name  string
	Topic string
	// Since is when it first subscribed (history clock); -1 until then.
	Since int64

	mu     sync.Mutex
	events []SubEvent
}

// Events returns a copy of what it recorded.
func (s *Subscriber) Events() []SubEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SubEvent(nil), s.events...)
}

func (s *Subscriber) add(e SubEvent) {
	s.mu.Lock()
	if e.Kind == "connect" && s.Since < 0 {
		s.Since = e.At
	}
	s.events = append(s.events, e)
	s.mu.Unlock()
}

func (s *Subscriber) since() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Since
}

// Name implements Generator.
func (p *PubSubWorkload) Name() string { return PubSubWorkloadName }

// Model implements Generator: publishes are judged by the messaging
// checker, not by porcupine.
func (p *PubSubWorkload) Model() *porcupine.Model { return nil }

func (p *PubSubWorkload) topic(i int) string { return fmt.Sprintf("chaos-%d", i) }

// Setup creates the tenant, waits until every node has it, and starts the
// subscribers; it returns once each has subscribed once.
func (p *PubSubWorkload) Setup(ctx context.Context, t *WorkTarget) error {
	if p.Topics <= 0 {
		p.Topics = 2
	}
	if p.Subscribers <= 0 {
		p.Subscribers = 2
	}
	p.target = t
	if err := setupTenant(ctx, t, p.Tenant); err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.stop = cancel
	for i := range p.Topics * p.Subscribers {
		s := &Subscriber{Name: fmt.Sprintf("sub%d", i), Topic: p.topic(i % p.Topics), Since: -1}
		p.subs = append(p.subs, s)
		p.wg.Go(func() { p.subscribe(sctx, s, uint64(i)) })
	}
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	return WaitFor(wctx, func() error {
		for _, s := range p.subs {
			if s.since() < 0 {
				return fmt.Errorf("%s has not subscribed yet", s.Name)
			}
		}
		return nil
	})
}

// setupTenant creates tenant (retrying through elections) and waits until
// every node's replica has it.
func setupTenant(ctx context.Context, t *WorkTarget, tenant string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return WaitFor(ctx, func() error {
		nodes := t.Nodes()
		resp, err := t.Client.Do(ctx, http.MethodPost, nodes[0].HTTPAddr(), "/v1/tenants", map[string]string{"name": tenant})
		if err != nil {
			return err
		}
		if resp.Status != http.StatusCreated && resp.Status != http.StatusConflict {
			return fmt.Errorf("create tenant: %d %s", resp.Status, resp.Body)
		}
		for _, n := range nodes {
			resp, err := t.Client.Do(ctx, http.MethodGet, n.HTTPAddr(), "/v1/tenants/"+tenant+"?stale", nil)
			if err != nil || resp.Status != http.StatusOK {
				return fmt.Errorf("%s does not have tenant %s yet", n.Name, tenant)
			}
		}
		return nil
	})
}

// subscribe keeps s subscribed until ctx ends, resuming with the last
// event id on a random node whenever the stream breaks.
func (p *PubSubWorkload) subscribe(ctx context.Context, s *Subscriber, stream uint64) {
	rng := mrand.New(mrand.NewPCG(p.target.Seed, 0x5ab0+stream))
	path := "/v1/tenants/" + p.Tenant + "/topics/" + s.Topic + "/events"
	last := ""
	for ctx.Err() == nil {
		nodes := p.target.Nodes()
		n := nodes[rng.IntN(len(nodes))]
		// A paused node never answers: give up on the open after 10 s,
		// but let an open stream live until ctx ends.
		octx, ocancel := context.WithCancel(ctx)
		timer := time.AfterFunc(10*time.Second, ocancel)
		st, err := openSSE(octx, n.HTTPAddr(), p.target.Client.Token, path, last)
		timer.Stop()
		if err != nil {
			ocancel()
			s.add(SubEvent{Kind: "end", At: p.target.Clock.Now(), Node: n.Name, Detail: "subscribe: " + ErrorClass(err)})
			sleepCtx(ctx, 300*time.Millisecond)
			continue
		}
		s.add(SubEvent{Kind: "connect", At: p.target.Clock.Now(), Node: n.Name})
		// Churn: a client also goes away by itself every 2-8 s and
		// resumes, so resume (often on another node) is exercised
		// whether or not a fault breaks the stream.
		churned := false
		var cmu sync.Mutex
		churn := time.AfterFunc(2*time.Second+time.Duration(rng.Int64N(int64(6*time.Second))), func() {
			cmu.Lock()
			churned = true
			cmu.Unlock()
			ocancel()
		})
		go func() {
			<-st.done
			churn.Stop()
			ocancel()
		}()
		for ev := range st.events {
			e := SubEvent{Kind: ev.Event, At: p.target.Clock.At(ev.At), Node: n.Name}
			switch ev.Event {
			case "message":
				var m sseMsg
				if json.Unmarshal(ev.Data, &m) != nil {
					e.Kind, e.Detail = "bad", string(ev.Data)
				}
				e.Origin, e.Epoch, e.Seq, e.Payload = m.Origin, m.Epoch, m.Seq, m.Payload
			case "gap":
				var g struct {
					Origin   string `json:"origin"`
					Epoch    string `json:"epoch"`
					From, To uint64
				}
				if json.Unmarshal(ev.Data, &g) != nil {
					e.Kind, e.Detail = "bad", string(ev.Data)
				}
				e.Origin, e.Epoch, e.From, e.To = g.Origin, g.Epoch, g.From, g.To
				e.Detail = fmt.Sprintf("%d-%d", g.From, g.To)
			default:
				e.Detail = string(ev.Data)
			}
			s.add(e)
			if ev.ID != "" {
				last = ev.ID
			}
		}
		cmu.Lock()
		why := "stream ended"
		if churned {
			why = "client went away (churn)"
		}
		cmu.Unlock()
		s.add(SubEvent{Kind: "end", At: p.target.Clock.Now(), Node: n.Name, Detail: why})
		sleepCtx(ctx, 200*time.Millisecond)
	}
}

// Stop ends the subscribers and waits for them.
func (p *PubSubWorkload) Stop() {
	if p.stop != nil {
		p.stop()
	}
	p.wg.Wait()
}

// Subs returns the subscribers.
func (p *PubSubWorkload) Subs() []*Subscriber { return p.subs }

// Step implements Generator: one publish of a unique payload on a random
// topic through the worker's node.
func (p *PubSubWorkload) Step(ctx context.Context, w *Worker) {
	p.mu.Lock()
	p.seq++
	payload := fmt.Sprintf("w%d-m%d", w.ID, p.seq)
	p.mu.Unlock()
	in := PubInput{Topic: p.topic(w.Rand.IntN(p.Topics)), Payload: payload}
	call := w.Now()
	code, body, err := p.publish(ctx, w, in)
	out := PubOutput{Outcome: OutUnknown}
	detail := ""
	switch {
	case err != nil:
		out.Outcome, detail = writeOutcome(nil, err)
	case code == http.StatusAccepted:
		var a struct {
			Origin, Epoch string
			Seq           uint64
		}
		if json.Unmarshal(body, &a) != nil || a.Seq == 0 {
			detail = "acknowledged without a position"
		} else {
			out = PubOutput{Outcome: OutOK, Origin: a.Origin, Epoch: a.Epoch, Seq: a.Seq}
		}
	default:
		out.Outcome, detail = writeOutcome(&Response{Status: code, Body: body}, nil)
	}
	w.Record(Entry{Workload: PubSubWorkloadName, Input: in, Output: out, Call: call,
		Indeterminate: out.Outcome == OutUnknown, Detail: detail})
}

// publish sends one message through one of the three publish paths,
// chosen at random: REST (one message a request), the batch endpoint (a
// batch of one) or the streaming protocol (a connection per publish). All
// three are sequenced through the same outbox and coalesced into gossip
// batches, so faults exercise batching whatever the path.
func (p *PubSubWorkload) publish(ctx context.Context, w *Worker, in PubInput) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, w.Target.OpTimeout)
	defer cancel()
	switch w.Rand.IntN(3) {
	case 1:
		return p.publishBatch(ctx, w, in)
	case 2:
		return p.publishStream(ctx, w, in)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+w.Node().HTTPAddr()+"/v1/tenants/"+p.Tenant+"/topics/"+in.Topic+"/messages", strings.NewReader(in.Payload))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+w.Target.Client.Token)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := w.Target.Client.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// MessagingChecker checks the pubsub workload's deliveries (see
// CheckMessaging). It first lets deliveries settle after the heal: it
// waits until every subscriber has every acknowledged message accounted
// for, or Settle (default 30 s: repair by head announcements backs off
// 1, 2, 4, 8 s...) has passed, then stops the subscribers.
type MessagingChecker struct {
	Settle time.Duration
}

// Name implements Checker.
func (MessagingChecker) Name() string { return "messaging" }

// Check implements Checker.
func (c MessagingChecker) Check(ctx context.Context, run *RunData) Result {
	var ps *PubSubWorkload
	for _, g := range run.Generators {
		if p, ok := g.(*PubSubWorkload); ok {
			ps = p
		}
	}
	if ps == nil {
		return Result{Checker: c.Name(), Verdict: NotApplicable, Summary: "not applicable: the pubsub workload did not run"}
	}
	settle := c.Settle
	if settle <= 0 {
		settle = 30 * time.Second
	}
	deadline := time.Now().Add(settle)
	var res Result
	for {
		res = CheckMessaging(run.Ops, ps.subsView())
		if res.Verdict == Pass || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		sleepCtx(ctx, time.Second)
	}
	ps.Stop()
	subs := ps.subsView()
	res = CheckMessaging(run.Ops, subs)
	conns, moved, broken := 0, 0, 0
	for _, s := range subs {
		prev := ""
		for _, e := range s.Events {
			switch e.Kind {
			case "connect":
				conns++
				if prev != "" && e.Node != prev {
					moved++
				}
				prev = e.Node
			case "end":
				broken++
			}
		}
	}
	res.Summary += fmt.Sprintf("; %d connections (%d resumes on another node), %d ends (after up to %s of settling)",
		conns, moved, broken, settle)
	if run.OutDir != "" {
		if f, err := os.Create(filepath.Join(run.OutDir, "subscribers.jsonl")); err == nil {
			enc := json.NewEncoder(f)
			for _, s := range subs {
				for _, e := range s.Events {
					_ = enc.Encode(struct {
						Sub, Topic string
						SubEvent
						From uint64 `json:"from,omitempty"`
						To   uint64 `json:"to,omitempty"`
					}{s.Name, s.Topic, e, e.From, e.To})
				}
			}
			_ = f.Close()
		}
	}
	return res
}

// SubLog is one subscriber's record, for CheckMessaging.
type SubLog struct {
	Name, Topic string
	Since       int64
	Events      []SubEvent
}

func (p *PubSubWorkload) subsView() []SubLog {
	var out []SubLog
	for _, s := range p.subs {
		out = append(out, SubLog{Name: s.Name, Topic: s.Topic, Since: s.since(), Events: s.Events()})
	}
	return out
}

type streamKey struct{ topic, origin, epoch string }

// CheckMessaging judges the deliveries of one run. A stream is (topic,
// origin, epoch). For every subscriber:
//
//   - no duplicates: no (origin, epoch, seq) and no payload is delivered
//     twice;
//   - per-stream order, nothing skipped silently: within a stream, each
//     message or gap starts right after the last sequence number the
//     subscriber was given (the first one it sees may start anywhere),
//     unless a reset came in between (position lost);
//   - no phantoms: a delivered payload was published (acknowledged or
//     indeterminate) on that topic, and an acknowledged one arrives at the
//     position its acknowledgement named;
//   - no acknowledged message lost: every publish acknowledged (202) on
//     the subscriber's topic and invoked after the subscriber first
//     subscribed is delivered, or covered by a gap naming its stream and
//     sequence number, or followed by a reset the subscriber received
//     after the publish was invoked. The subscriber stays subscribed
//     (resuming with Last-Event-ID on any node) until the check, so this
//     is "while both were connected" with resume counted as connected.
func CheckMessaging(ops []Entry, subs []SubLog) Result {
	res := Result{Checker: "messaging", Verdict: Pass}
	type pub struct {
		in   PubInput
		out  PubOutput
		call int64
	}
	byPayload := map[string]pub{}
	var acked []pub
	for _, op := range ops {
		in, ok1 := op.Input.(PubInput)
		out, ok2 := op.Output.(PubOutput)
		if !ok1 || !ok2 {
			continue
		}
		p := pub{in, out, op.Call}
		byPayload[in.Payload] = p
		if out.Outcome == OutOK {
			acked = append(acked, p)
		}
	}
	var bad []string
	fail := func(format string, a ...any) {
		if len(bad) < 40 {
			bad = append(bad, fmt.Sprintf(format, a...))
		}
		res.Verdict = Fail
	}
	var delivered, gaps, resets, missing, covered, excused int
	for _, s := range subs {
		pos := map[streamKey]uint64{} // last seq given, per stream
		seen := map[string]bool{}     // delivered payloads
		got := map[streamKey]map[uint64]bool{}
		type gapRange struct {
			k        streamKey
			from, to uint64
		}
		var gapsSeen []gapRange
		var resetAts []int64
		for _, e := range s.Events {
			k := streamKey{s.Topic, e.Origin, e.Epoch}
			switch e.Kind {
			case "bad":
				fail("%s: undecodable event %q", s.Name, e.Detail)
			case "reset":
				resets++
				resetAts = append(resetAts, e.At)
				pos = map[streamKey]uint64{} // position lost
			case "gap":
				gaps++
				gapsSeen = append(gapsSeen, gapRange{k, e.From, e.To})
				if last, ok := pos[k]; ok && e.From != last+1 {
					fail("%s: gap %d-%d on %s/%s after seq %d (not contiguous)", s.Name, e.From, e.To, e.Origin, e.Epoch, last)
				}
				if e.To < e.From {
					fail("%s: gap %d-%d is empty", s.Name, e.From, e.To)
				}
				pos[k] = e.To
			case "message":
				delivered++
				if got[k] == nil {
					got[k] = map[uint64]bool{}
				}
				switch {
				case got[k][e.Seq] || seen[e.Payload]:
					fail("%s: duplicate: %s/%s seq %d %q again (at %s on %s)", s.Name, e.Origin, e.Epoch, e.Seq, e.Payload, time.Duration(e.At), e.Node)
				default:
					if last, ok := pos[k]; ok && e.Seq != last+1 {
						if e.Seq <= last {
							fail("%s: reordered: %s/%s seq %d after %d (%q at %s on %s)", s.Name, e.Origin, e.Epoch, e.Seq, last, e.Payload, time.Duration(e.At), e.Node)
						} else {
							fail("%s: skipped silently: %s/%s seq %d after %d without a gap (%q at %s on %s)", s.Name, e.Origin, e.Epoch, e.Seq, last, e.Payload, time.Duration(e.At), e.Node)
						}
					}
				}
				got[k][e.Seq], seen[e.Payload] = true, true
				pos[k] = max(pos[k], e.Seq)
				p, ok := byPayload[e.Payload]
				switch {
				case !ok || p.in.Topic != s.Topic:
					fail("%s: phantom: %q on %s was never published there", s.Name, e.Payload, s.Topic)
				case p.out.Outcome == OutOK && (p.out.Origin != e.Origin || p.out.Epoch != e.Epoch || p.out.Seq != e.Seq):
					fail("%s: %q acknowledged as %s/%s/%d, delivered as %s/%s/%d", s.Name, e.Payload,
						p.out.Origin, p.out.Epoch, p.out.Seq, e.Origin, e.Epoch, e.Seq)
				}
			}
		}
		if s.Since < 0 {
			continue
		}
		var lost []string
		for _, p := range acked {
			if p.in.Topic != s.Topic || p.call < s.Since {
				continue
			}
			k := streamKey{s.Topic, p.out.Origin, p.out.Epoch}
			if got[k][p.out.Seq] {
				continue
			}
			gapped := false
			for _, g := range gapsSeen {
				if g.k == k && g.from <= p.out.Seq && p.out.Seq <= g.to {
					gapped = true
				}
			}
			if gapped {
				covered++
				continue
			}
			reset := false
			for _, at := range resetAts {
				if at >= p.call {
					reset = true
				}
			}
			if reset {
				excused++
				continue
			}
			missing++
			lost = append(lost, fmt.Sprintf("%q (%s/%s seq %d, published at %s)", p.in.Payload, p.out.Origin, p.out.Epoch, p.out.Seq, time.Duration(p.call).Round(time.Millisecond)))
		}
		if len(lost) > 0 {
			sort.Strings(lost)
			fail("%s (%s): %d acknowledged messages neither delivered nor covered by a gap or a reset, e.g. %s",
				s.Name, s.Topic, len(lost), strings.Join(lost[:min(len(lost), 5)], ", "))
		}
	}
	if len(subs) == 0 || len(acked) == 0 {
		res.Verdict = NotApplicable
		res.Summary = fmt.Sprintf("not applicable: %d subscribers, %d acknowledged publishes", len(subs), len(acked))
		return res
	}
	res.Summary = fmt.Sprintf("%d subscribers, %d acknowledged publishes: %d deliveries, %d gap events (%d messages covered), %d resets (%d messages excused), %d missing",
		len(subs), len(acked), delivered, gaps, covered, resets, excused, missing)
	res.Details = bad
	return res
}

// publishBatch publishes in through the batch endpoint and answers like
// the single-message endpoint (the first result as the body).
func (p *PubSubWorkload) publishBatch(ctx context.Context, w *Worker, in PubInput) (int, []byte, error) {
	body := map[string]any{"messages": []map[string]string{{"payload": in.Payload, "content_type": "text/plain"}}}
	resp, err := w.Target.Client.Do(ctx, http.MethodPost, w.Node().HTTPAddr(), "/v1/tenants/"+p.Tenant+"/topics/"+in.Topic+"/batch", body)
	if err != nil {
		return 0, nil, err
	}
	if resp.Status != http.StatusAccepted {
		return resp.Status, resp.Body, nil
	}
	var res struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(resp.Body, &res); err != nil || len(res.Messages) != 1 {
		return resp.Status, nil, nil // acknowledged without a position
	}
	return resp.Status, res.Messages[0], nil
}

// publishStream publishes in through a streaming connection of its own.
// A refusal maps to the REST status of its code; a connection failure
// after the publish was sent is indeterminate, as for REST.
func (p *PubSubWorkload) publishStream(ctx context.Context, w *Worker, in PubInput) (int, []byte, error) {
	c, err := streamclient.Dial(ctx, streamclient.Config{URL: "http://" + w.Node().HTTPAddr(), Tenant: p.Tenant, Credential: w.Target.Client.Token})
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	res, err := c.Publish(ctx, in.Topic, "text/plain", []byte(in.Payload))
	var se *streamclient.Error
	switch {
	case errors.As(err, &se):
		status := map[string]int{"rate_limited": 429, "not_ready": 503, "invalid_argument": 400,
			"payload_too_large": 413, "not_found": 404}[se.Code]
		if status == 0 {
			status = 500
		}
		return status, []byte(se.Error()), nil
	case err != nil:
		return 0, nil, err
	}
	b, _ := json.Marshal(map[string]any{"origin": res.Origin, "epoch": res.Epoch, "seq": res.Seq})
	return http.StatusAccepted, b, nil
}

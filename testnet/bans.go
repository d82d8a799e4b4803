package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// BanWorkload creates bans for fresh players, revokes them, and reads
// them back with ?consistent: by id, and through the player ban check.
// Every create uses a player id no other operation created, so each
// player is one ban's life and the history partitions by player.
type BanWorkload struct {
	// Tenant is created by Setup.
	Tenant string

	mu      sync.Mutex
	seq     int
	players []string  // every player a create was attempted for
	bans    []banRef  // acknowledged creates
	created []BanInfo // acknowledged creates, for the lost-write checker
}

type banRef struct{ id, player string }

// BanInfo is an acknowledged ban.
type BanInfo struct {
	ID, Player string
}

// BanWorkloadName tags the ban workload's operations.
const BanWorkloadName = "bans"

// Name implements Generator.
func (b *BanWorkload) Name() string { return BanWorkloadName }

// Model implements Generator.
func (b *BanWorkload) Model() *porcupine.Model { return &BanModel }

// Setup creates the tenant, retrying through elections.
func (b *BanWorkload) Setup(ctx context.Context, t *WorkTarget) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return WaitFor(ctx, func() error {
		nodes := t.Nodes()
		resp, err := t.Client.Do(ctx, http.MethodPost, nodes[0].HTTPAddr(), "/v1/tenants", map[string]string{"name": b.Tenant})
		if err != nil {
			return err
		}
		if resp.Status != http.StatusCreated && resp.Status != http.StatusConflict {
			return fmt.Errorf("create tenant: %d %s", resp.Status, resp.Body)
		}
		return nil
	})
}

// Step implements Generator: 35 % creates, 15 % revokes, 25 % reads by
// id, 25 % ban checks. Until a create has been acknowledged, it creates.
func (b *BanWorkload) Step(ctx context.Context, w *Worker) {
	b.mu.Lock()
	nbans, nplayers := len(b.bans), len(b.players)
	b.mu.Unlock()
	r := w.Rand.IntN(100)
	switch {
	case nbans == 0 || r < 35:
		b.create(ctx, w)
	case r < 50:
		b.revoke(ctx, w, b.ban(w.Rand.IntN(nbans)))
	case r < 75:
		b.get(ctx, w, b.ban(w.Rand.IntN(nbans)))
	default:
		b.mu.Lock()
		p := b.players[w.Rand.IntN(nplayers)]
		b.mu.Unlock()
		b.check(ctx, w, p)
	}
}

func (b *BanWorkload) ban(i int) banRef {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bans[i]
}

// Acknowledged returns every ban whose create was acknowledged.
func (b *BanWorkload) Acknowledged() []BanInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]BanInfo(nil), b.created...)
}

func (b *BanWorkload) do(ctx context.Context, w *Worker, method, path string, body any) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, w.Target.OpTimeout)
	defer cancel()
	return w.Target.Client.Do(ctx, method, w.Node().HTTPAddr(), path, body)
}

func (b *BanWorkload) create(ctx context.Context, w *Worker) {
	b.mu.Lock()
	b.seq++
	player := fmt.Sprintf("w%d-p%d", w.ID, b.seq)
	b.players = append(b.players, player)
	b.mu.Unlock()
	body := map[string]any{"player_id": player, "reason": "chaos"}
	if w.Rand.IntN(2) == 0 {
		body["duration_seconds"] = 86400 // active for the whole run
	}
	in := BanInput{Kind: BanCreate, Player: player}
	call := w.Now()
	resp, err := b.do(ctx, w, http.MethodPost, "/v1/tenants/"+b.Tenant+"/bans", body)
	outcome, detail := writeOutcome(resp, err)
	out := BanOutput{Outcome: outcome}
	if out.Outcome == OutOK {
		var ban struct {
			ID string `json:"id"`
		}
		if jerr := resp.JSON(&ban); jerr != nil || ban.ID == "" {
			out.Outcome, detail = OutUnknown, "acknowledged without a ban id" // cannot name it
		} else {
			out.BanID = ban.ID
		}
	}
	w.Record(Entry{Workload: BanWorkloadName, Input: in, Output: out, Call: call,
		Indeterminate: out.Outcome == OutUnknown, Detail: detail})
	if out.Outcome == OutOK {
		b.mu.Lock()
		b.bans = append(b.bans, banRef{out.BanID, player})
		b.created = append(b.created, BanInfo{out.BanID, player})
		b.mu.Unlock()
	}
}

func (b *BanWorkload) revoke(ctx context.Context, w *Worker, ref banRef) {
	in := BanInput{Kind: BanRevoke, Player: ref.player, BanID: ref.id}
	call := w.Now()
	resp, err := b.do(ctx, w, http.MethodDelete, "/v1/tenants/"+b.Tenant+"/bans/"+ref.id, nil)
	outcome, detail := writeOutcome(resp, err)
	w.Record(Entry{Workload: BanWorkloadName, Input: in, Output: BanOutput{Outcome: outcome}, Call: call,
		Indeterminate: outcome == OutUnknown, Detail: detail})
}

func (b *BanWorkload) get(ctx context.Context, w *Worker, ref banRef) {
	in := BanInput{Kind: BanGet, Player: ref.player, BanID: ref.id}
	call := w.Now()
	resp, err := b.do(ctx, w, http.MethodGet, "/v1/tenants/"+b.Tenant+"/bans/"+ref.id+"?consistent", nil)
	var out BanOutput
	switch {
	case err != nil:
		w.Drop(BanWorkloadName)
		return
	case resp.Status == http.StatusOK:
		var ban struct {
			RevokedAt *time.Time `json:"revoked_at"`
		}
		if resp.JSON(&ban) != nil {
			w.Drop(BanWorkloadName)
			return
		}
		out = BanOutput{Outcome: OutOK, Revoked: ban.RevokedAt != nil}
	case resp.Status == http.StatusNotFound:
		out = BanOutput{Outcome: OutNotFound}
	default:
		w.Drop(BanWorkloadName)
		return
	}
	w.Record(Entry{Workload: BanWorkloadName, Input: in, Output: out, Call: call})
}

func (b *BanWorkload) check(ctx context.Context, w *Worker, player string) {
	in := BanInput{Kind: BanCheck, Player: player}
	call := w.Now()
	resp, err := b.do(ctx, w, http.MethodGet, "/v1/tenants/"+b.Tenant+"/players/"+player+"/ban?consistent", nil)
	if err != nil || resp.Status != http.StatusOK {
		w.Drop(BanWorkloadName)
		return
	}
	var bc struct {
		Banned bool `json:"banned"`
	}
	if resp.JSON(&bc) != nil {
		w.Drop(BanWorkloadName)
		return
	}
	w.Record(Entry{Workload: BanWorkloadName, Input: in, Output: BanOutput{Outcome: OutOK, Banned: bc.Banned}, Call: call})
}

// writeOutcome classifies a write's answer as the API documents it
// (docs/consistency.md): 200, 201, 202, 204 acknowledged; 404/409 the state machine's
// definite rejections; 400 and 503 no_leader definite failures (nothing
// written); a refused connection never sent anything; everything else
// (504, other 5xx, a broken connection, a time-out) is indeterminate.
// detail names the cause of anything but 2xx.
func writeOutcome(resp *Response, err error) (outcome, detail string) {
	if err != nil {
		switch {
		case isDialError(err):
			return OutFail, transportDetail(err)
		case errors.Is(err, context.DeadlineExceeded):
			return OutUnknown, "timeout"
		case errors.Is(err, context.Canceled):
			return OutUnknown, "canceled at the end of the run"
		}
		return OutUnknown, transportDetail(err)
	}
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if resp.Status >= 300 {
		_ = json.Unmarshal(resp.Body, &e)
		detail = strings.TrimSpace(fmt.Sprintf("HTTP %d %s", resp.Status, e.Error.Code))
	}
	switch resp.Status {
	case http.StatusOK, http.StatusCreated, http.StatusNoContent, http.StatusAccepted:
		return OutOK, ""
	case http.StatusNotFound:
		return OutNotFound, detail
	case http.StatusConflict:
		return OutConflict, detail
	case http.StatusBadRequest:
		return OutFail, detail
	case http.StatusServiceUnavailable:
		if e.Error.Code == "no_leader" {
			return OutFail, detail
		}
	}
	return OutUnknown, detail
}

package testnet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/anishathalye/porcupine"
)

// UGCWorkloadName names the UGC workload (issue 14): create items, upload
// small blobs to them with tus, query, delete.
const UGCWorkloadName = "ugc"

// UGCTenant is the UGC workload's tenant; its project is ugcProject.
const (
	UGCTenant  = "chaos-ugc"
	ugcProject = "game"
)

// UGC operations.
const (
	UGCCreate = "create"
	UGCUpload = "upload"
	UGCQuery  = "query"
	UGCDelete = "delete"
)

// UGCInput is one UGC operation: its kind, the item (and for an upload
// the version and the sha256 of the bytes sent).
type UGCInput struct {
	Op      string `json:"op"`
	Item    string `json:"item,omitempty"`
	Version string `json:"version,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
}

// UGCOutput is its outcome (OutOK, OutFail, OutUnknown, ...); a create
// names the item it made.
type UGCOutput struct {
	Outcome string `json:"outcome"`
	Item    string `json:"item,omitempty"`
}

// UGCWorkload drives the UGC pipeline as the studio (an operator token):
// it creates items, opens versions and uploads 1-16 KiB blobs to them
// with tus (the acknowledgement is the last PATCH's 204, which the node
// answers after one Raft write published the version), queries by tag,
// and deletes items. Safe for concurrent Steps.
type UGCWorkload struct {
	Tenant string

	mu    sync.Mutex
	items []string // acknowledged and not deleted by this workload
}

// Name implements Generator.
func (u *UGCWorkload) Name() string { return UGCWorkloadName }

// Model implements Generator: the UGC checker judges the history.
func (u *UGCWorkload) Model() *porcupine.Model { return nil }

// Setup implements Generator: the tenant and project, and settings that
// keep every version (so a published one is never trimmed).
func (u *UGCWorkload) Setup(ctx context.Context, t *WorkTarget) error {
	if u.Tenant == "" {
		u.Tenant = UGCTenant
	}
	if err := setupTenant(ctx, t, u.Tenant); err != nil {
		return err
	}
	addr := t.Nodes()[0].HTTPAddr()
	base := "/v1/tenants/" + u.Tenant + "/projects"
	if err := setupCreate(ctx, t.Client, addr, base, map[string]string{"name": ugcProject}); err != nil {
		return fmt.Errorf("ugc: create project: %w", err)
	}
	return WaitFor(ctx, func() error {
		resp, err := t.Client.Do(ctx, http.MethodPut, addr, base+"/"+ugcProject+"/ugc/settings",
			map[string]any{"versions_per_item": 100, "max_items_per_player": 100000})
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK {
			return &StatusError{Status: resp.Status, Body: string(resp.Body)}
		}
		return nil
	})
}

func (u *UGCWorkload) base() string {
	return "/v1/tenants/" + u.Tenant + "/projects/" + ugcProject + "/ugc/items"
}

func (u *UGCWorkload) pick(w *Worker, remove bool) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.items) == 0 {
		return ""
	}
	i := w.Rand.IntN(len(u.items))
	id := u.items[i]
	if remove {
		u.items = append(u.items[:i], u.items[i+1:]...)
	}
	return id
}

// Step implements Generator.
func (u *UGCWorkload) Step(ctx context.Context, w *Worker) {
	switch r := w.Rand.IntN(10); {
	case r < 3:
		u.create(ctx, w)
	case r < 7:
		u.upload(ctx, w)
	case r < 9:
		u.query(ctx, w)
	default:
		u.delete(ctx, w)
	}
}

func (u *UGCWorkload) create(ctx context.Context, w *Worker) {
	call := w.Now()
	octx, cancel := context.WithTimeout(ctx, w.Target.OpTimeout)
	resp, err := w.Target.Client.Do(octx, http.MethodPost, w.Node().HTTPAddr(), u.base(),
		map[string]any{"title": fmt.Sprintf("chaos item %d", w.Rand.IntN(1000)), "tags": []string{"chaos"}})
	cancel()
	out, detail := writeOutcome(resp, err)
	o := UGCOutput{Outcome: out}
	if out == OutOK {
		var it struct {
			ID string `json:"id"`
		}
		if resp.JSON(&it) != nil || it.ID == "" {
			o.Outcome, detail = OutUnknown, "acknowledged without an id"
		} else {
			o.Item = it.ID
			u.mu.Lock()
			u.items = append(u.items, it.ID)
			u.mu.Unlock()
		}
	}
	w.Record(Entry{Workload: UGCWorkloadName, Input: UGCInput{Op: UGCCreate}, Output: o, Call: call,
		Indeterminate: o.Outcome == OutUnknown, Detail: detail})
}

func (u *UGCWorkload) upload(ctx context.Context, w *Worker) {
	item := u.pick(w, false)
	if item == "" {
		return
	}
	data := make([]byte, 1024+w.Rand.IntN(15<<10))
	for i := range data {
		data[i] = byte(w.Rand.Uint32())
	}
	sum := sha256.Sum256(data)
	in := UGCInput{Op: UGCUpload, Item: item, SHA256: hex.EncodeToString(sum[:])}
	call := w.Now()
	octx, cancel := context.WithTimeout(ctx, w.Target.OpTimeout)
	defer cancel()
	resp, err := w.Target.Client.Do(octx, http.MethodPost, w.Node().HTTPAddr(), u.base()+"/"+item+"/versions",
		map[string]any{"filename": "blob.bin", "size": len(data), "sha256": in.SHA256, "content_type": "application/octet-stream"})
	out, detail := writeOutcome(resp, err)
	if out != OutOK {
		// Opening the version published nothing, whatever its outcome.
		w.Record(Entry{Workload: UGCWorkloadName, Input: in, Output: UGCOutput{Outcome: OutFail}, Call: call, Detail: "open: " + detail})
		return
	}
	var v struct {
		VersionID string `json:"version_id"`
		UploadURL string `json:"upload_url"`
	}
	if resp.JSON(&v) != nil {
		w.Record(Entry{Workload: UGCWorkloadName, Input: in, Output: UGCOutput{Outcome: OutFail}, Call: call, Detail: "open: no body"})
		return
	}
	in.Version = v.VersionID
	err = TusUpload(octx, w.Target.Client.HTTP, v.UploadURL, data, 8<<10, 0)
	o := UGCOutput{Outcome: OutOK}
	if err != nil {
		o.Outcome, detail = OutUnknown, err.Error()
		var te *TusError
		if errors.As(err, &te) && te.Status < 500 && te.Status != http.StatusLocked {
			o.Outcome = OutFail // refused before the last byte: nothing published
		}
	}
	w.Record(Entry{Workload: UGCWorkloadName, Input: in, Output: o, Call: call, Indeterminate: o.Outcome == OutUnknown, Detail: detail})
}

func (u *UGCWorkload) query(ctx context.Context, w *Worker) {
	octx, cancel := context.WithTimeout(ctx, w.Target.OpTimeout)
	defer cancel()
	resp, err := w.Target.Client.Do(octx, http.MethodGet, w.Node().HTTPAddr(), u.base()+"?tag=chaos&q=chaos+item&limit=20", nil)
	if err != nil || resp.Status != http.StatusOK {
		w.Drop(UGCWorkloadName)
	}
}

func (u *UGCWorkload) delete(ctx context.Context, w *Worker) {
	item := u.pick(w, true)
	if item == "" {
		return
	}
	call := w.Now()
	octx, cancel := context.WithTimeout(ctx, w.Target.OpTimeout)
	resp, err := w.Target.Client.Do(octx, http.MethodDelete, w.Node().HTTPAddr(), u.base()+"/"+item, nil)
	cancel()
	out, detail := writeOutcome(resp, err)
	w.Record(Entry{Workload: UGCWorkloadName, Input: UGCInput{Op: UGCDelete, Item: item}, Output: UGCOutput{Outcome: out},
		Call: call, Indeterminate: out == OutUnknown, Detail: detail})
}

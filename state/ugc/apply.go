package ugc

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/table"
)

// Register implements consensus.Module. Every operation needs state
// version 2: nodes of the first release would skip them.
func (s *Store) Register(r *consensus.Router) {
	v := uint32(consensus.StateVersionManagement)
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.PutUGCSettings]{Validate: validateSettings, Apply: s.putSettings, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.CreateUGCItem]{Validate: validateCreateItem, Apply: s.createItem, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.UpdateUGCItem]{Validate: validateUpdateItem, Apply: s.updateItem, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.DeleteUGCItem]{
		Validate: func(op *cassnetv1.DeleteUGCItem) error {
			return validateItemRef(op.GetTenant(), op.GetProject(), op.GetId())
		},
		Apply: s.deleteItem, MinStateVersion: v,
	})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.CreateUGCVersion]{Validate: validateCreateVersion, Apply: s.createVersion, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.PublishUGCVersion]{Validate: validatePublish, Apply: s.publish, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RejectUGCVersion]{
		Validate: func(op *cassnetv1.RejectUGCVersion) error {
			return consensus.FirstError(validateItemRef(op.GetTenant(), op.GetProject(), op.GetItem()),
				ValidateID("id", op.GetId()), consensus.ValidateText("reason", op.GetReason(), MaxReasonLen))
		},
		Apply: s.reject, MinStateVersion: v,
	})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.DeleteUGCVersion]{
		Validate: func(op *cassnetv1.DeleteUGCVersion) error {
			return consensus.FirstError(validateItemRef(op.GetTenant(), op.GetProject(), op.GetItem()), ValidateID("id", op.GetId()))
		},
		Apply: s.deleteVersion, MinStateVersion: v,
	})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RecordUGCDownloads]{
		Validate: func(op *cassnetv1.RecordUGCDownloads) error {
			if len(op.GetEntries()) > maxDownloadEntries {
				return invalid("entries: at most %d", maxDownloadEntries)
			}
			for _, e := range op.GetEntries() {
				if err := validateItemRef(e.GetTenant(), e.GetProject(), e.GetItem()); err != nil {
					return err
				}
			}
			return nil
		},
		Apply: s.downloads, MinStateVersion: v,
	})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.ReportUGCItem]{
		Validate: func(op *cassnetv1.ReportUGCItem) error {
			return consensus.FirstError(validateItemRef(op.GetTenant(), op.GetProject(), op.GetItem()),
				ValidateID("id", op.GetId()), consensus.ValidateText("reporter", op.GetReporter(), 256),
				consensus.ValidateText("reason", op.GetReason(), MaxReasonLen))
		},
		Apply: s.report, MinStateVersion: v,
	})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.ModerateUGCItem]{Validate: validateModerate, Apply: s.moderate, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.CollectUGCBlob]{Validate: validateCollect, Apply: s.collect, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.SetUGCSecret]{
		Validate: func(op *cassnetv1.SetUGCSecret) error {
			if len(op.GetSecret()) != SecretLen {
				return invalid("secret: must be %d bytes", SecretLen)
			}
			return nil
		},
		Apply: func(tx *consensus.Tx, op *cassnetv1.SetUGCSecret) error {
			w := s.write(tx)
			if op.GetIfNone() && w.secret != nil {
				return nil
			}
			w.secret = slices.Clone(op.GetSecret())
			tx.Emit(consensus.Event{Action: "ugc.secret.set", Operational: true, Data: map[string]string{}})
			return nil
		},
		MinStateVersion: v,
	})
}

// SecretLen is the length of the URL signing secret.
const SecretLen = 32

// maxDownloadEntries bounds one batch of download counts.
const maxDownloadEntries = 4096

func itemNotFound(tenant, project, id string) error {
	return consensus.NewError(consensus.ErrNotFound, "item %q not found in project %q of tenant %q", id, project, tenant)
}

func itemEvent(action string, it *Item, extra map[string]string) consensus.Event {
	data := map[string]string{"project": it.Project, "item": it.ID, "owner": it.Owner, "state": it.State, "visibility": it.Visibility}
	maps.Copy(data, extra)
	return consensus.Event{Action: action, Tenant: it.Tenant, Target: it.ID, Detail: "project=" + it.Project, Data: data}
}

func versionEvent(action string, v *Version, operational bool) consensus.Event {
	data := map[string]string{"project": v.Project, "item": v.Item, "version": v.ID, "owner": v.Owner,
		"filename": v.Filename, "size": strconv.FormatInt(v.Size, 10), "sha256": v.SHA256,
		"content_type": v.ContentType, "state": v.State}
	if v.Reason != "" {
		data["reason"] = v.Reason
	}
	return consensus.Event{Action: action, Tenant: v.Tenant, Target: v.Item + "/" + v.ID,
		Detail: "project=" + v.Project, Data: data, Operational: operational}
}

// SettingsIn returns a project's effective settings as of tx.
func (s *Store) settingsIn(w *write, tenant, project string) Settings {
	if st, ok := w.settings.Get(table.Key(tenant, project)); ok {
		return st.Effective()
	}
	return Settings{Tenant: tenant, Project: project}.Effective()
}

func (s *Store) putSettings(tx *consensus.Tx, op *cassnetv1.PutUGCSettings) error {
	if err := s.tenancy.CheckTenantProject(tx, op.GetTenant(), op.GetProject()); err != nil {
		return err
	}
	st := &Settings{
		Tenant: op.GetTenant(), Project: op.GetProject(), Store: op.GetStore(),
		MaxTotalBytes: op.GetMaxTotalBytes(), MaxBytesPerPlayer: op.GetMaxBytesPerPlayer(),
		MaxItemsPerPlayer: op.GetMaxItemsPerPlayer(), MaxFileSize: op.GetMaxFileSize(),
		VersionsPerItem: op.GetVersionsPerItem(), AllowedContentTypes: slices.Clone(op.GetAllowedContentTypes()),
		Moderation: op.GetModeration(), UploadTTLSeconds: op.GetUploadTtlSeconds(), UpdatedAt: tx.Time,
	}
	s.write(tx).settings.Put(table.Key(st.Tenant, st.Project), st)
	tx.Emit(consensus.Event{Action: "ugc.settings.updated", Tenant: st.Tenant, Target: st.Project,
		Data: map[string]string{"project": st.Project, "store": st.Effective().Store, "moderation": st.Effective().Moderation}})
	return nil
}

func (s *Store) createItem(tx *consensus.Tx, op *cassnetv1.CreateUGCItem) error {
	if err := s.tenancy.CheckTenantProject(tx, op.GetTenant(), op.GetProject()); err != nil {
		return err
	}
	w := s.write(tx)
	if _, dup := w.items.Get(itemKey(op.GetTenant(), op.GetProject(), op.GetId())); dup {
		return consensus.NewError(consensus.ErrConflict, "item %q already exists", op.GetId())
	}
	set := s.settingsIn(w, op.GetTenant(), op.GetProject())
	if u, _ := w.usage.Get(table.Key(op.GetTenant(), op.GetProject())); u.Items >= MaxItemsPerProject {
		return consensus.NewError(ErrQuota, "the project has the maximum of %d items", MaxItemsPerProject)
	}
	if op.GetOwner() != OwnerStudio {
		if u, _ := w.usage.Get(ownerUsageKey(op.GetTenant(), op.GetProject(), op.GetOwner())); u.Items >= int64(set.MaxItemsPerPlayer) {
			return consensus.NewError(ErrQuota, "max_items_per_player: the player has the maximum of %d items", set.MaxItemsPerPlayer)
		}
	}
	it := &Item{
		ID: op.GetId(), Tenant: op.GetTenant(), Project: op.GetProject(), Owner: op.GetOwner(),
		Title: op.GetTitle(), Description: op.GetDescription(), Tags: slices.Clone(op.GetTags()),
		Metadata: maps.Clone(op.GetMetadata()), Visibility: op.GetVisibility(), State: StateDraft,
		CreatedAt: tx.Time, UpdatedAt: tx.Time,
	}
	w.putItem(nil, it)
	tx.Emit(itemEvent("ugc.item.created", it, map[string]string{"title": it.Title}))
	return nil
}

func (s *Store) updateItem(tx *consensus.Tx, op *cassnetv1.UpdateUGCItem) error {
	w := s.write(tx)
	old, ok := w.items.Get(itemKey(op.GetTenant(), op.GetProject(), op.GetId()))
	if !ok {
		return itemNotFound(op.GetTenant(), op.GetProject(), op.GetId())
	}
	it := old.clone()
	if op.Title != nil {
		it.Title = op.GetTitle()
	}
	if op.Description != nil {
		it.Description = op.GetDescription()
	}
	if op.GetSetTags() {
		it.Tags = slices.Clone(op.GetTags())
	}
	if op.GetSetMetadata() {
		it.Metadata = maps.Clone(op.GetMetadata())
	}
	if op.Visibility != nil {
		it.Visibility = op.GetVisibility()
	}
	it.UpdatedAt = tx.Time
	w.putItem(old, it)
	tx.Emit(itemEvent("ugc.item.updated", it, nil))
	return nil
}

func (s *Store) deleteItem(tx *consensus.Tx, op *cassnetv1.DeleteUGCItem) error {
	w := s.write(tx)
	it, ok := w.items.Get(itemKey(op.GetTenant(), op.GetProject(), op.GetId()))
	if !ok {
		return itemNotFound(op.GetTenant(), op.GetProject(), op.GetId())
	}
	w.dropItem(it, tx.Time)
	tx.Emit(itemEvent("ugc.item.deleted", it, nil))
	return nil
}

func (s *Store) createVersion(tx *consensus.Tx, op *cassnetv1.CreateUGCVersion) error {
	w := s.write(tx)
	it, ok := w.items.Get(itemKey(op.GetTenant(), op.GetProject(), op.GetItem()))
	if !ok {
		return itemNotFound(op.GetTenant(), op.GetProject(), op.GetItem())
	}
	if _, dup := w.versions.Get(table.Key(op.GetTenant(), op.GetProject(), op.GetItem(), op.GetId())); dup {
		return consensus.NewError(consensus.ErrConflict, "version %q already exists", op.GetId())
	}
	expires := time.Unix(0, op.GetExpiresUnixNano()).UTC()
	if !expires.After(tx.Time) || expires.Sub(tx.Time) > MaxUploadTTL {
		return invalid("expires: must be within %s of now", MaxUploadTTL)
	}
	set := s.settingsIn(w, op.GetTenant(), op.GetProject())
	if err := CheckUpload(set, op.GetSize(), op.GetContentType()); err != nil {
		return err
	}
	if u, _ := w.usage.Get(table.Key(op.GetTenant(), op.GetProject())); set.MaxTotalBytes > 0 && u.Bytes+op.GetSize() > set.MaxTotalBytes {
		return consensus.NewError(ErrTooLarge, "max_total_bytes: the project may hold %d bytes and holds %d", set.MaxTotalBytes, u.Bytes)
	}
	if it.Owner != OwnerStudio && set.MaxBytesPerPlayer > 0 {
		if u, _ := w.usage.Get(ownerUsageKey(it.Tenant, it.Project, it.Owner)); u.Bytes+op.GetSize() > set.MaxBytesPerPlayer {
			return consensus.NewError(ErrTooLarge, "max_bytes_per_player: a player may hold %d bytes and holds %d", set.MaxBytesPerPlayer, u.Bytes)
		}
	}
	pending := 0
	w.versions.Walk(table.Prefix(it.Tenant, it.Project, it.ID), func(_ string, v *Version) bool {
		if v.State == VersionPending {
			pending++
		}
		return true
	})
	if pending >= MaxPendingPerItem {
		return consensus.NewError(ErrQuota, "an item may have at most %d uploads open at once", MaxPendingPerItem)
	}
	ni := it.clone()
	ni.NextSeq++
	ni.UpdatedAt = tx.Time
	v := &Version{
		ID: op.GetId(), Tenant: it.Tenant, Project: it.Project, Item: it.ID, Seq: ni.NextSeq, Owner: it.Owner,
		Filename: op.GetFilename(), Size: op.GetSize(), SHA256: op.GetSha256(), ContentType: op.GetContentType(),
		State: VersionPending, Store: op.GetStore(), ExpiresAt: expires, CreatedAt: tx.Time,
	}
	w.putItem(it, ni)
	w.putVersion(nil, v, tx.Time)
	tx.Emit(versionEvent("ugc.version.created", v, true))
	return nil
}

// CheckUpload checks a requested upload against a project's per-file
// settings (the quotas need the state and are checked in Apply).
func CheckUpload(set Settings, size int64, contentType string) error {
	if size > set.MaxFileSize {
		return consensus.NewError(ErrTooLarge, "max_file_size: files may be at most %d bytes", set.MaxFileSize)
	}
	if !set.AllowsContentType(contentType) {
		return invalid("content_type: %q is not in the project's allowed_content_types", contentType)
	}
	return nil
}

func (s *Store) version(w *write, tenant, project, item, id string) (*Version, error) {
	v, ok := w.versions.Get(table.Key(tenant, project, item, id))
	if !ok {
		return nil, consensus.NewError(consensus.ErrNotFound, "version %q of item %q not found", id, item)
	}
	return v, nil
}

func (s *Store) publish(tx *consensus.Tx, op *cassnetv1.PublishUGCVersion) error {
	w := s.write(tx)
	old, err := s.version(w, op.GetTenant(), op.GetProject(), op.GetItem(), op.GetId())
	if err != nil {
		return err
	}
	switch old.State {
	case VersionPublished:
		if old.Store == op.GetStore() && old.Holder == op.GetHolder() {
			return nil // a retry of the same publish
		}
		return consensus.NewError(consensus.ErrConflict, "version %q is already published", old.ID)
	case VersionExpired:
		return consensus.NewError(consensus.ErrConflict, "version %q expired: its upload was not completed in time", old.ID)
	case VersionRejected:
		return consensus.NewError(consensus.ErrConflict, "version %q was rejected: %s", old.ID, old.Reason)
	}
	if b, ok := w.blobs.Get(table.Key(old.Tenant, old.Project, old.SHA256, op.GetStore(), op.GetHolder())); ok && b.Collecting {
		return consensus.NewError(consensus.ErrConflict, "the blob is being garbage-collected; upload again")
	}
	it, ok := w.items.Get(itemKey(old.Tenant, old.Project, old.Item))
	if !ok {
		return itemNotFound(old.Tenant, old.Project, old.Item)
	}
	v := *old
	at := tx.Time
	v.State, v.Store, v.Holder, v.PublishedAt = VersionPublished, op.GetStore(), op.GetHolder(), &at
	w.putVersion(old, &v, tx.Time)
	ni := it.clone()
	ni.LiveVersion, ni.UpdatedAt = v.ID, tx.Time
	set := s.settingsIn(w, it.Tenant, it.Project)
	switch {
	case it.State == StateHidden:
	case set.Moderation == ModerationApproval:
		ni.State, ni.Reason = StatePending, ""
	default:
		ni.State, ni.Reason = StateApproved, ""
	}
	w.putItem(it, ni)
	w.trimVersions(it.Tenant, it.Project, it.ID, tx.Time)
	tx.Emit(versionEvent("ugc.version.published", &v, false))
	if ni.State != it.State {
		tx.Emit(itemEvent("ugc.item.moderation_changed", ni, map[string]string{"from": it.State, "to": ni.State}))
	}
	return nil
}

// trimVersions keeps an item's live version, its newest published
// versions up to the project's versions_per_item, and its newest
// keptUnpublished rejected or expired ones; pending versions stay.
func (w *write) trimVersions(tenant, project, item string, at time.Time) {
	it, ok := w.items.Get(itemKey(tenant, project, item))
	if !ok {
		return
	}
	keep := int(w.s.settingsIn(w, tenant, project).VersionsPerItem)
	var published, done []*Version
	w.versions.Walk(table.Prefix(tenant, project, item), func(_ string, v *Version) bool {
		switch {
		case v.ID == it.LiveVersion || v.State == VersionPending:
		case v.State == VersionPublished:
			published = append(published, v)
		default:
			done = append(done, v)
		}
		return true
	})
	bySeq := func(a, b *Version) int { return int(int64(b.Seq) - int64(a.Seq)) } // newest first
	slices.SortFunc(published, bySeq)
	slices.SortFunc(done, bySeq)
	if it.LiveVersion != "" {
		keep-- // the live version counts towards the limit
	}
	for i, v := range published {
		if i >= keep {
			w.removeVersion(v, at)
		}
	}
	for i, v := range done {
		if i >= keptUnpublished {
			w.removeVersion(v, at)
		}
	}
}

func (s *Store) reject(tx *consensus.Tx, op *cassnetv1.RejectUGCVersion) error {
	w := s.write(tx)
	old, err := s.version(w, op.GetTenant(), op.GetProject(), op.GetItem(), op.GetId())
	if err != nil {
		return err
	}
	if old.State != VersionPending {
		return consensus.NewError(consensus.ErrConflict, "version %q is %s, not pending", old.ID, old.State)
	}
	v := *old
	v.State, v.Reason = VersionRejected, op.GetReason()
	w.putVersion(old, &v, tx.Time)
	w.trimVersions(v.Tenant, v.Project, v.Item, tx.Time)
	tx.Emit(versionEvent("ugc.version.rejected", &v, false))
	return nil
}

func (s *Store) deleteVersion(tx *consensus.Tx, op *cassnetv1.DeleteUGCVersion) error {
	w := s.write(tx)
	v, err := s.version(w, op.GetTenant(), op.GetProject(), op.GetItem(), op.GetId())
	if err != nil {
		return err
	}
	if it, ok := w.items.Get(itemKey(v.Tenant, v.Project, v.Item)); ok && it.LiveVersion == v.ID {
		return consensus.NewError(consensus.ErrConflict, "version %q is the live version; publish another or delete the item", v.ID)
	}
	w.removeVersion(v, tx.Time)
	tx.Emit(versionEvent("ugc.version.deleted", v, false))
	return nil
}

func (s *Store) downloads(tx *consensus.Tx, op *cassnetv1.RecordUGCDownloads) error {
	w := s.write(tx)
	for _, e := range op.GetEntries() {
		old, ok := w.items.Get(itemKey(e.GetTenant(), e.GetProject(), e.GetItem()))
		if !ok || e.GetCount() == 0 {
			continue // deleted since: a count never fails
		}
		it := old.clone()
		it.Downloads += e.GetCount()
		w.putItem(old, it)
	}
	return nil
}

func (s *Store) report(tx *consensus.Tx, op *cassnetv1.ReportUGCItem) error {
	w := s.write(tx)
	old, ok := w.items.Get(itemKey(op.GetTenant(), op.GetProject(), op.GetItem()))
	if !ok {
		return itemNotFound(op.GetTenant(), op.GetProject(), op.GetItem())
	}
	r := &Report{ID: op.GetId(), Tenant: old.Tenant, Project: old.Project, Item: old.ID,
		Reporter: op.GetReporter(), Reason: op.GetReason(), CreatedAt: tx.Time}
	prefix := table.Prefix(old.Tenant, old.Project, old.ID)
	if _, dup := w.reports.Get(prefix + r.ID); dup {
		return consensus.NewError(consensus.ErrConflict, "report %q already exists", r.ID)
	}
	w.reports.Put(prefix+r.ID, r)
	var kept []*Report
	w.reports.Walk(prefix, func(_ string, r *Report) bool { kept = append(kept, r); return true })
	if len(kept) > MaxReportsKept {
		oldest := slices.MinFunc(kept, func(a, b *Report) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return compareStr(a.ID, b.ID)
		})
		w.reports.Delete(prefix + oldest.ID)
	}
	it := old.clone()
	it.Reports++
	w.putItem(old, it)
	tx.Emit(itemEvent("ugc.reported", it, map[string]string{"report": r.ID, "reporter": r.Reporter,
		"reason": r.Reason, "reports": strconv.FormatUint(it.Reports, 10)}))
	return nil
}

func compareStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Store) moderate(tx *consensus.Tx, op *cassnetv1.ModerateUGCItem) error {
	w := s.write(tx)
	old, ok := w.items.Get(itemKey(op.GetTenant(), op.GetProject(), op.GetItem()))
	if !ok {
		return itemNotFound(op.GetTenant(), op.GetProject(), op.GetItem())
	}
	it := old.clone()
	switch op.GetAction() {
	case "approve":
		it.State, it.Reason = StateApproved, ""
	case "reject":
		it.State, it.Reason = StateRejected, op.GetReason()
	case "hide":
		it.State, it.Reason = StateHidden, op.GetReason()
	}
	it.UpdatedAt = tx.Time
	w.putItem(old, it)
	tx.Emit(itemEvent("ugc.item.moderation_changed", it, map[string]string{"from": old.State, "to": it.State,
		"action": op.GetAction(), "reason": op.GetReason()}))
	return nil
}

func (s *Store) collect(tx *consensus.Tx, op *cassnetv1.CollectUGCBlob) error {
	w := s.write(tx)
	key := table.Key(op.GetTenant(), op.GetProject(), op.GetSha256(), op.GetStore(), op.GetHolder())
	old, ok := w.blobs.Get(key)
	if !ok {
		return consensus.NewError(consensus.ErrNotFound, "blob %s not recorded", op.GetSha256())
	}
	if old.Refs > 0 {
		return consensus.NewError(consensus.ErrConflict, "blob %s is referenced by %d versions", old.SHA256, old.Refs)
	}
	if op.GetPhase() == "claim" {
		if old.Collecting {
			return nil
		}
		b := *old
		b.Collecting, b.UpdatedAt = true, tx.Time
		w.blobs.Put(key, &b)
		return nil
	}
	if !old.Collecting {
		return consensus.NewError(consensus.ErrConflict, "blob %s was not claimed", old.SHA256)
	}
	w.blobs.Delete(key)
	w.garbage.Delete(garbageKey(old))
	tx.Emit(consensus.Event{Action: "ugc.blob.deleted", Tenant: old.Tenant, Target: old.SHA256, Operational: true,
		Data: map[string]string{"project": old.Project, "sha256": old.SHA256, "store": old.Store, "holder": old.Holder}})
	return nil
}

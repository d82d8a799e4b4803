package ugc

import (
	"strings"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// Errors with their own codes, so the API can answer them 413 and 429.
var (
	// ErrTooLarge: a file over the project's maximum size, or bytes over a
	// byte quota. The message names the limit. HTTP 413.
	ErrTooLarge = &consensus.Error{Code: "too_large"}
	// ErrQuota: a count quota (items per player, open uploads per item)
	// is reached. The message names the limit. HTTP 429.
	ErrQuota = &consensus.Error{Code: "quota_exceeded"}
)

func invalid(format string, args ...any) error {
	return consensus.NewError(consensus.ErrInvalid, format, args...)
}

// ValidateID checks an item, version or report id.
func ValidateID(field, s string) error { return consensus.ValidateIdentifier(field, s) }

// ValidateOwner checks an owner: "studio" or a player id.
func ValidateOwner(s string) error { return consensus.ValidateIdentifier("owner", s) }

// ValidateVisibility checks a visibility.
func ValidateVisibility(v string) error {
	switch v {
	case VisibilityPublic, VisibilityUnlisted, VisibilityPrivate:
		return nil
	}
	return invalid("visibility: must be public, unlisted or private")
}

// ValidateTag checks one tag: 1 to 32 bytes of lowercase letters, digits
// and "-_.:", a letter or digit first.
func ValidateTag(t string) error {
	if t == "" || len(t) > MaxTagLen {
		return invalid("tags: each tag must be 1 to %d bytes", MaxTagLen)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_' || c == '.' || c == ':')) {
			return invalid("tags: %q must match ^[a-z0-9][a-z0-9._:-]*$", t)
		}
	}
	return nil
}

// ValidateTags checks a tag list: at most MaxTags, each valid, no
// duplicates.
func ValidateTags(tags []string) error {
	if len(tags) > MaxTags {
		return invalid("tags: at most %d", MaxTags)
	}
	seen := make(map[string]struct{}, len(tags))
	for _, t := range tags {
		if err := ValidateTag(t); err != nil {
			return err
		}
		if _, dup := seen[t]; dup {
			return invalid("tags: %q is repeated", t)
		}
		seen[t] = struct{}{}
	}
	return nil
}

// ValidateMetadata checks key-value metadata: at most MaxMetadataEntries
// keys of 1 to 64 bytes ([A-Za-z0-9._:-]) and MaxMetadataBytes in all.
func ValidateMetadata(m map[string]string) error {
	if len(m) > MaxMetadataEntries {
		return invalid("metadata: at most %d keys", MaxMetadataEntries)
	}
	total := 0
	for k, v := range m {
		if len(k) > MaxMetadataKeyLen {
			return invalid("metadata: keys must be at most %d bytes", MaxMetadataKeyLen)
		}
		if err := consensus.ValidateIdentifier("metadata key", k); err != nil {
			return err
		}
		if err := consensus.ValidateText("metadata value", v, MaxMetadataBytes); err != nil {
			return err
		}
		total += len(k) + len(v)
	}
	if total > MaxMetadataBytes {
		return invalid("metadata: at most %d bytes in all", MaxMetadataBytes)
	}
	return nil
}

// ValidateSHA256 checks a lowercase hex SHA-256.
func ValidateSHA256(s string) error {
	if len(s) != 64 {
		return invalid("sha256: must be 64 lowercase hex characters")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return invalid("sha256: must be 64 lowercase hex characters")
		}
	}
	return nil
}

// ValidateContentType checks a media type's shape: type/subtype of token
// characters, no parameters, or type/* in an allow-list.
func ValidateContentType(field, ct string, wildcard bool) error {
	if len(ct) == 0 || len(ct) > MaxContentTypeLen {
		return invalid("%s: must be 1 to %d bytes", field, MaxContentTypeLen)
	}
	typ, sub, ok := strings.Cut(ct, "/")
	if !ok || !token(typ) || !(token(sub) || wildcard && sub == "*") {
		return invalid("%s: must be a media type such as application/zip", field)
	}
	return nil
}

func token(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&^_.+-", c) >= 0) {
			return false
		}
	}
	return true
}

// ValidateFilename checks a file name: 1 to 255 bytes of text, no path.
func ValidateFilename(s string) error {
	if s == "" {
		return invalid("filename: is required")
	}
	if err := consensus.ValidateText("filename", s, MaxFilenameLen); err != nil {
		return err
	}
	if strings.ContainsAny(s, `/\"`) || s == "." || s == ".." {
		return invalid(`filename: must not contain / \ or "`)
	}
	return nil
}

func scope(tenant, project string) error {
	return consensus.FirstError(consensus.ValidateName("tenant", tenant), consensus.ValidateName("project", project))
}

func validateSettings(op *cassnetv1.PutUGCSettings) error {
	if err := scope(op.GetTenant(), op.GetProject()); err != nil {
		return err
	}
	switch op.GetStore() {
	case "", StoreLocal, StoreS3:
	default:
		return invalid("store: must be local or s3")
	}
	switch op.GetModeration() {
	case "", ModerationAuto, ModerationApproval:
	default:
		return invalid("moderation: must be auto-approve or approval-required")
	}
	if op.GetVersionsPerItem() > MaxVersionsPerItem {
		return invalid("versions_per_item: at most %d", MaxVersionsPerItem)
	}
	if time.Duration(op.GetUploadTtlSeconds())*time.Second > MaxUploadTTL {
		return invalid("upload_ttl_seconds: at most %d", int(MaxUploadTTL/time.Second))
	}
	if len(op.GetAllowedContentTypes()) > MaxContentTypes {
		return invalid("allowed_content_types: at most %d", MaxContentTypes)
	}
	for _, ct := range op.GetAllowedContentTypes() {
		if err := ValidateContentType("allowed_content_types", ct, true); err != nil {
			return err
		}
	}
	return consensus.FirstError(
		consensus.NonNegative("max_total_bytes", op.GetMaxTotalBytes()),
		consensus.NonNegative("max_bytes_per_player", op.GetMaxBytesPerPlayer()),
		consensus.NonNegative("max_file_size", op.GetMaxFileSize()))
}

// ValidateItemFields checks the fields an item is created or edited with.
func ValidateItemFields(title, description string, tags []string, metadata map[string]string) error {
	return consensus.FirstError(
		consensus.ValidateText("title", title, MaxTitleLen),
		consensus.ValidateText("description", description, MaxDescriptionLen),
		ValidateTags(tags), ValidateMetadata(metadata))
}

func validateCreateItem(op *cassnetv1.CreateUGCItem) error {
	if op.GetTitle() == "" {
		return invalid("title: is required")
	}
	return consensus.FirstError(scope(op.GetTenant(), op.GetProject()), ValidateID("id", op.GetId()),
		ValidateOwner(op.GetOwner()), ValidateVisibility(op.GetVisibility()),
		ValidateItemFields(op.GetTitle(), op.GetDescription(), op.GetTags(), op.GetMetadata()))
}

func validateUpdateItem(op *cassnetv1.UpdateUGCItem) error {
	if op.Title != nil && op.GetTitle() == "" {
		return invalid("title: must not be empty")
	}
	var err error
	if op.Visibility != nil {
		err = ValidateVisibility(op.GetVisibility())
	}
	return consensus.FirstError(scope(op.GetTenant(), op.GetProject()), ValidateID("id", op.GetId()), err,
		ValidateItemFields(op.GetTitle(), op.GetDescription(), op.GetTags(), op.GetMetadata()))
}

func validateItemRef(tenant, project, item string) error {
	return consensus.FirstError(scope(tenant, project), ValidateID("item", item))
}

func validateCreateVersion(op *cassnetv1.CreateUGCVersion) error {
	if op.GetSize() <= 0 {
		return invalid("size: must be at least 1")
	}
	if op.GetStore() != StoreLocal && op.GetStore() != StoreS3 {
		return invalid("store: must be local or s3")
	}
	if op.GetExpiresUnixNano() <= 0 {
		return invalid("expires_unix_nano: is required")
	}
	return consensus.FirstError(validateItemRef(op.GetTenant(), op.GetProject(), op.GetItem()),
		ValidateID("id", op.GetId()), ValidateFilename(op.GetFilename()), ValidateSHA256(op.GetSha256()),
		ValidateContentType("content_type", op.GetContentType(), false))
}

func validatePublish(op *cassnetv1.PublishUGCVersion) error {
	if op.GetStore() != StoreLocal && op.GetStore() != StoreS3 {
		return invalid("store: must be local or s3")
	}
	return consensus.FirstError(validateItemRef(op.GetTenant(), op.GetProject(), op.GetItem()),
		ValidateID("id", op.GetId()), consensus.ValidateText("holder", op.GetHolder(), 128))
}

func validateModerate(op *cassnetv1.ModerateUGCItem) error {
	switch op.GetAction() {
	case "approve", "reject", "hide":
	default:
		return invalid("action: must be approve, reject or hide")
	}
	return consensus.FirstError(validateItemRef(op.GetTenant(), op.GetProject(), op.GetItem()),
		consensus.ValidateText("reason", op.GetReason(), MaxReasonLen))
}

func validateCollect(op *cassnetv1.CollectUGCBlob) error {
	if op.GetPhase() != "claim" && op.GetPhase() != "done" {
		return invalid("phase: must be claim or done")
	}
	return consensus.FirstError(scope(op.GetTenant(), op.GetProject()), ValidateSHA256(op.GetSha256()),
		consensus.ValidateText("store", op.GetStore(), 16), consensus.ValidateText("holder", op.GetHolder(), 128))
}

package webhooks

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

func invalid(format string, args ...any) error {
	return consensus.NewError(consensus.ErrInvalid, format, args...)
}

const (
	idPrefix     = "wh_"
	secretPrefix = "whsec_"
)

// NewID returns a new random webhook id.
func NewID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new webhook id: %w", err)
	}
	return idPrefix + hex.EncodeToString(b[:]), nil
}

// NewSecret returns a new random signing secret: "whsec_" and 32 random
// bytes in hex. The HMAC key is the whole string.
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new webhook secret: %w", err)
	}
	return secretPrefix + hex.EncodeToString(b[:]), nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidateID checks a webhook id: "wh_" and 16 lowercase hex characters.
func ValidateID(field, id string) error {
	if len(id) != len(idPrefix)+16 || !strings.HasPrefix(id, idPrefix) || !isHex(id[len(idPrefix):]) {
		return invalid("%s: must be %q and 16 lowercase hex characters", field, idPrefix)
	}
	return nil
}

func validateSecret(s string) error {
	if len(s) != len(secretPrefix)+64 || !strings.HasPrefix(s, secretPrefix) || !isHex(s[len(secretPrefix):]) {
		return invalid("secret: must be %q and 64 lowercase hex characters", secretPrefix)
	}
	return nil
}

// ValidateURL checks the shape of a webhook URL: http or https, a host, no
// user info or fragment, at most MaxURLLen bytes. Whether its host may be
// reached (SSRF) is the deliverer's and the API's check, not this one.
func ValidateURL(raw string) error {
	if raw == "" {
		return invalid("url: is required")
	}
	if err := consensus.ValidateText("url", raw, MaxURLLen); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid("url: not a URL")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return invalid("url: scheme must be https or http")
	case u.Host == "" || u.Hostname() == "":
		return invalid("url: must name a host")
	case u.User != nil:
		return invalid("url: must not hold user info")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return invalid("url: must not have a fragment")
	case u.Opaque != "":
		return invalid("url: must be absolute")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return invalid("url: bad port")
		}
	}
	return nil
}

// ValidateEvents checks a subscription: 1 to MaxEvents catalogue types,
// each once.
func ValidateEvents(events []string) error {
	if len(events) == 0 || len(events) > MaxEvents {
		return invalid("events: must list 1 to %d event types", MaxEvents)
	}
	seen := map[string]bool{}
	for _, e := range events {
		if !KnownType(e) {
			if err := consensus.ValidateText("events", e, 64); err != nil {
				return invalid("events: unknown event type")
			}
			return invalid("events: unknown event type %q (see GET /v1/webhooks/catalogue or docs/webhooks.md)", e)
		}
		if seen[e] {
			return invalid("events: %q listed twice", e)
		}
		seen[e] = true
	}
	return nil
}

// ValidateDescription checks a description.
func ValidateDescription(s string) error {
	return consensus.ValidateText("description", s, MaxDescriptionLen)
}

// parseEventID returns the outbox position of an event id
// "evt_<index>_<n>".
func parseEventID(id string) (string, error) {
	rest, ok := strings.CutPrefix(id, "evt_")
	if !ok || len(id) > 40 {
		return "", invalid("event_id: must be evt_<index>_<n>")
	}
	a, b, ok := strings.Cut(rest, "_")
	if !ok {
		return "", invalid("event_id: must be evt_<index>_<n>")
	}
	idx, err1 := strconv.ParseUint(a, 10, 64)
	n, err2 := strconv.ParseUint(b, 10, 16)
	if err1 != nil || err2 != nil || strconv.FormatUint(idx, 10) != a || strconv.FormatUint(n, 10) != b {
		return "", invalid("event_id: must be evt_<index>_<n>")
	}
	return seq(idx, int(n)), nil
}

// ValidateEventID checks an event id.
func ValidateEventID(id string) error { _, err := parseEventID(id); return err }

func validateCreate(op *cassnetv1.CreateWebhook) error {
	return consensus.FirstError(
		ValidateID("id", op.GetId()), consensus.ValidateName("tenant", op.GetTenant()),
		ValidateURL(op.GetUrl()), ValidateEvents(op.GetEvents()),
		ValidateDescription(op.GetDescription()), validateSecret(op.GetSecret()))
}

func validateUpdate(op *cassnetv1.UpdateWebhook) error {
	err := consensus.FirstError(ValidateID("id", op.GetId()), consensus.ValidateName("tenant", op.GetTenant()))
	if err == nil && op.Url != nil {
		err = ValidateURL(op.GetUrl())
	}
	if err == nil && op.GetSetEvents() {
		err = ValidateEvents(op.GetEvents())
	}
	if err == nil && op.Description != nil {
		err = ValidateDescription(op.GetDescription())
	}
	if err == nil && op.GetSecret() != "" {
		err = validateSecret(op.GetSecret())
	}
	return err
}

func validateRecord(op *cassnetv1.RecordWebhookDeliveries) error {
	if len(op.GetAttempts()) == 0 || len(op.GetAttempts()) > 1024 {
		return invalid("attempts: must hold 1 to 1024 attempts")
	}
	for _, a := range op.GetAttempts() {
		if err := consensus.FirstError(
			consensus.ValidateName("tenant", a.GetTenant()), ValidateID("webhook", a.GetWebhook()),
			ValidateEventID(a.GetEventId()), consensus.ValidateText("error", a.GetError(), MaxErrorLen),
			consensus.ValidateText("disable_reason", a.GetDisableReason(), MaxErrorLen)); err != nil {
			return err
		}
		if a.GetAttempt() == 0 {
			return invalid("attempt: must be at least 1")
		}
	}
	return nil
}

func validateRedeliver(op *cassnetv1.RedeliverWebhookEvent) error {
	return consensus.FirstError(consensus.ValidateName("tenant", op.GetTenant()),
		ValidateID("webhook", op.GetWebhook()), ValidateEventID(op.GetEventId()))
}

package servers

import (
	"strconv"
	"strings"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

func invalid(format string, args ...any) error {
	return consensus.NewError(consensus.ErrInvalid, format, args...)
}

// ValidateID checks a game server or allocation id: 1 to 128 characters
// from [A-Za-z0-9._:@-].
func ValidateID(field, s string) error { return consensus.ValidateIdentifier(field, s) }

// labelName checks the name part of a Kubernetes label key, or a label
// value when empty is allowed: at most 63 characters, alphanumeric at
// both ends, '-', '_' and '.' inside.
func labelName(s string, allowEmpty bool) bool {
	if s == "" {
		return allowEmpty
	}
	if len(s) > 63 {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !alnum(c) && !((c == '-' || c == '_' || c == '.') && i > 0 && i < len(s)-1) {
			return false
		}
	}
	return true
}

// dnsSubdomain checks a label key prefix: at most 253 characters of
// lowercase DNS labels separated by dots.
func dnsSubdomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" || len(part) > 63 || part[0] == '-' || part[len(part)-1] == '-' {
			return false
		}
		for i := 0; i < len(part); i++ {
			if c := part[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// ValidateLabelKey checks a key in Kubernetes label syntax: an optional
// DNS-subdomain prefix (at most 253 characters) and '/', then a name of at
// most 63 characters.
func ValidateLabelKey(field, k string) error {
	name := k
	if prefix, rest, ok := strings.Cut(k, "/"); ok {
		if !dnsSubdomain(prefix) {
			return invalid("%s: key %q: the prefix must be a DNS subdomain of at most 253 characters", field, k)
		}
		name = rest
	}
	if !labelName(name, false) {
		return invalid("%s: key %q: must be at most 63 characters, alphanumeric at both ends, with -, _ or . inside", field, k)
	}
	return nil
}

// ValidateLabels checks a label map: Kubernetes label keys, values of at
// most 63 characters in the same syntax (or empty), at most MaxLabels.
func ValidateLabels(field string, labels map[string]string) error {
	if len(labels) > MaxLabels {
		return invalid("%s: at most %d labels", field, MaxLabels)
	}
	for k, v := range labels {
		if err := ValidateLabelKey(field, k); err != nil {
			return err
		}
		if !labelName(v, true) {
			return invalid("%s: value of %q: must be at most 63 characters, alphanumeric at both ends, with -, _ or . inside", field, k)
		}
	}
	return nil
}

// ValidateAnnotations checks annotations: label keys, printable values,
// and, with labels, at most MaxMetadataBytes in all.
func ValidateAnnotations(field string, ann, labels map[string]string) error {
	size := 0
	for k, v := range labels {
		size += len(k) + len(v)
	}
	for k, v := range ann {
		if err := ValidateLabelKey(field, k); err != nil {
			return err
		}
		if err := consensus.ValidateText(field+"."+k, v, MaxMetadataBytes); err != nil {
			return err
		}
		size += len(k) + len(v)
	}
	if size > MaxMetadataBytes {
		return invalid("metadata: labels and annotations must total at most %d bytes, got %d", MaxMetadataBytes, size)
	}
	return nil
}

func validatePorts(ports map[string]uint32) error {
	if len(ports) > MaxPorts {
		return invalid("ports: at most %d", MaxPorts)
	}
	for name, p := range ports {
		if !labelName(name, false) {
			return invalid("ports: name %q: must be a label name", name)
		}
		if p == 0 || p > 65535 {
			return invalid("ports: %q: must be between 1 and 65535", name)
		}
	}
	return nil
}

// ValidateState checks a lifecycle state name.
func ValidateState(field, s string) error {
	switch s {
	case StateStarting, StateReady, StateReserved, StateAllocated, StateDraining, StateShutdown, StateUnhealthy:
		return nil
	}
	return invalid("%s: unknown state %q (starting, ready, reserved, allocated, draining, shutdown, unhealthy)", field, s)
}

func optName(field, s string) error {
	if s == "" {
		return nil
	}
	return consensus.ValidateName(field, s)
}

func validateRegister(op *cassnetv1.RegisterServer) error {
	err := consensus.FirstError(
		consensus.ValidateName("tenant", op.GetTenant()), optName("project_id", op.GetProject()),
		optName("fleet", op.GetFleet()), ValidateID("server_id", op.GetId()),
		consensus.ValidateText("node", op.GetNode(), maxIDLen),
		consensus.ValidateText("address", op.GetAddress(), maxAddressLen),
		validatePorts(op.GetPorts()), ValidateLabels("labels", op.GetLabels()))
	if err != nil {
		return err
	}
	if op.GetNode() == "" {
		return invalid("node: is required")
	}
	if s := op.GetState(); s != StateStarting && s != StateReady {
		return invalid("state: a server registers as starting or ready")
	}
	return nil
}

func validateSetState(op *cassnetv1.SetServerState) error {
	err := consensus.FirstError(consensus.ValidateName("tenant", op.GetTenant()), ValidateID("server_id", op.GetId()),
		ValidateState("state", op.GetState()))
	if err != nil {
		return err
	}
	if op.GetIfState() != "" {
		if err := ValidateState("if_state", op.GetIfState()); err != nil {
			return err
		}
	}
	switch op.GetState() {
	case StateStarting:
		return invalid("state: a server cannot go back to starting")
	case StateReserved:
		if s := op.GetReserveSeconds(); s == 0 || s > uint32(MaxReserve.Seconds()) {
			return invalid("reserve_seconds: must be between 1 and %d", int(MaxReserve.Seconds()))
		}
	case StateAllocated:
		if err := ValidateID("allocation_id", op.GetAllocationId()); err != nil {
			return err
		}
	}
	return nil
}

func validatePlayers(op *cassnetv1.UpdateServerPlayers) error {
	n := len(op.GetEntries())
	if n == 0 || n > maxPlayerEntries {
		return invalid("entries: must hold 1 to %d servers", maxPlayerEntries)
	}
	for _, e := range op.GetEntries() {
		if err := consensus.FirstError(consensus.ValidateName("tenant", e.GetTenant()), ValidateID("server_id", e.GetId())); err != nil {
			return err
		}
	}
	return nil
}

func validateLabelsOp(op *cassnetv1.SetServerLabels) error {
	err := consensus.FirstError(consensus.ValidateName("tenant", op.GetTenant()), ValidateID("server_id", op.GetId()),
		ValidateLabels("set", op.GetSet()))
	if err != nil {
		return err
	}
	if len(op.GetSet())+len(op.GetRemove()) == 0 {
		return invalid("labels: nothing to set or remove")
	}
	for _, k := range op.GetRemove() {
		if err := ValidateLabelKey("remove", k); err != nil {
			return err
		}
	}
	return nil
}

func validateMarkNode(op *cassnetv1.MarkNodeServers) error {
	if op.GetNode() == "" {
		return invalid("node: is required")
	}
	if a := op.GetAction(); a != StateUnhealthy && a != StateLost && a != "remove" {
		return invalid("action: must be unhealthy, lost or remove")
	}
	return consensus.ValidateText("node", op.GetNode(), maxIDLen)
}

// ValidateAllocate checks an allocation request: selectors, strategy and
// metadata. The API calls it before proposing, so a bad request is a 400
// that names the field.
func ValidateAllocate(op *cassnetv1.Allocate) error {
	err := consensus.FirstError(
		consensus.ValidateName("tenant", op.GetTenant()), optName("project_id", op.GetProject()),
		optName("fleet", op.GetFleet()), ValidateID("allocation_id", op.GetAllocationId()),
		ValidateLabels("metadata.labels", op.GetLabels()),
		ValidateAnnotations("metadata.annotations", op.GetAnnotations(), op.GetLabels()))
	if err != nil {
		return err
	}
	if k := op.GetIdempotencyKey(); k != "" {
		if err := ValidateID("idempotency_key", k); err != nil {
			return err
		}
	}
	switch op.GetStrategy() {
	case "", StrategyPacked, StrategyDistributed:
	default:
		return invalid("strategy: must be packed or distributed, got %q", op.GetStrategy())
	}
	if err := validatePreferred(op); err != nil {
		return err
	}
	sels := op.GetSelectors()
	if len(sels) > MaxSelectors {
		return invalid("selectors: at most %d", MaxSelectors)
	}
	for i, s := range sels {
		if err := ValidateLabels("selectors["+strconv.Itoa(i)+"].labels", s.GetLabels()); err != nil {
			return err
		}
		switch s.GetState() {
		case "", StateReady:
			if s.GetMinFreePlayers() != 0 {
				return invalid("selectors[%d].min_free_players: only for state allocated", i)
			}
		case StateAllocated:
		default:
			return invalid("selectors[%d].state: must be ready or allocated, got %q", i, s.GetState())
		}
	}
	return nil
}

package pubsub

import (
	"errors"
	"fmt"
	"strings"
)

// Topic name limits.
const (
	maxTopicLen  = 128
	maxTenantLen = 63
	topicPrefix  = "cass/"
)

// ErrInvalid marks errors caused by the caller's input: a malformed topic
// name, tenant or event id. The API answers them with 400.
var ErrInvalid = errors.New("pubsub: invalid argument")

// ValidateTopic checks a topic name: 1 to 128 characters, a lowercase
// letter or digit first, then lowercase letters, digits, '.', '_' or '-'.
// It is the tenant-name charset (consensus.ValidateName) plus '.', so that
// topics can be hierarchical ("match.42.chat"). The error wraps ErrInvalid.
func ValidateTopic(topic string) error {
	return validateIdent("topic", topic, maxTopicLen, true)
}

// validateTenant checks a tenant name the way consensus.ValidateName does.
func validateTenant(tenant string) error {
	return validateIdent("tenant", tenant, maxTenantLen, false)
}

func validateIdent(field, s string, maxLen int, dots bool) error {
	if len(s) == 0 || len(s) > maxLen {
		return fmt.Errorf("%w: %s: must be 1 to %d characters", ErrInvalid, field, maxLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			i > 0 && (c == '_' || c == '-' || dots && c == '.')
		if !ok {
			if dots {
				return fmt.Errorf("%w: %s: must match ^[a-z0-9][a-z0-9._-]*$", ErrInvalid, field)
			}
			return fmt.Errorf("%w: %s: must match ^[a-z0-9][a-z0-9_-]*$", ErrInvalid, field)
		}
	}
	return nil
}

// TopicName is the GossipSub topic of a tenant's topic:
// "cass/<tenant>/<topic>". Tenants cannot collide because neither part may
// contain '/'.
func TopicName(tenant, topic string) (string, error) {
	if err := validateTenant(tenant); err != nil {
		return "", err
	}
	if err := ValidateTopic(topic); err != nil {
		return "", err
	}
	return topicPrefix + tenant + "/" + topic, nil
}

// parseTopicName checks a full topic name read from the network.
func parseTopicName(name string) error {
	rest, ok := strings.CutPrefix(name, topicPrefix)
	if !ok {
		return fmt.Errorf("%w: topic %q lacks the %q prefix", ErrInvalid, name, topicPrefix)
	}
	tenant, topic, ok := strings.Cut(rest, "/")
	if !ok {
		return fmt.Errorf("%w: topic %q has no tenant", ErrInvalid, name)
	}
	_, err := TopicName(tenant, topic)
	return err
}

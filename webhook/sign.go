// Package webhook delivers the replicated webhook outbox (state/webhooks)
// from the Raft leader: it signs each event with the webhook's secret
// (Stripe's scheme, in the X-Cass-Signature header), POSTs it through an
// HTTP client that refuses loopback, private and link-local targets at
// dial time (Guard), retries with exponential backoff and jitter, and
// reports every attempt back to the cluster in batched
// RecordWebhookDeliveries commands: an event leaves the outbox only when a
// replicated acknowledgement says it was delivered, so a new leader
// re-delivers whatever was not acknowledged (at least once, with the same
// event id).
//
// It owns the wire format of a delivery, its signature, the SSRF rules and
// the retry and disabling policy. It must not change the replicated state
// except through the commands it proposes, and must never log a secret
// or a URL's path.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a delivery's signature.
const SignatureHeader = "X-Cass-Signature"

// DefaultTolerance is how old a signature's timestamp a receiver should
// accept: Stripe's five minutes.
const DefaultTolerance = 5 * time.Minute

// Sign returns the X-Cass-Signature value of body, signed at t with
// secret: "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">". The
// HMAC key is the whole secret string ("whsec_...").
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Signature is a parsed X-Cass-Signature header.
type Signature struct {
	Timestamp int64
	// V1 holds every v1 signature of the header (a sender may send more
	// than one, e.g. while a secret is rotated).
	V1 [][]byte
}

// Errors of ParseSignature and Verify.
var (
	ErrMalformedSignature = errors.New("webhook: malformed signature header")
	ErrBadSignature       = errors.New("webhook: no signature matches")
	ErrStaleSignature     = errors.New("webhook: signature timestamp outside the tolerance")
)

// maxHeaderLen bounds the header ParseSignature reads.
const maxHeaderLen = 4096

// ParseSignature parses "t=<unix>,v1=<hex>[,v1=<hex>...]". Unknown
// schemes (v0, v2, ...) are ignored, as Stripe's libraries do; a header
// without a timestamp or without a v1 signature is malformed.
func ParseSignature(h string) (Signature, error) {
	var sig Signature
	if len(h) > maxHeaderLen {
		return sig, ErrMalformedSignature
	}
	seenT := false
	for _, part := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Signature{}, ErrMalformedSignature
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || seenT || n < 0 {
				return Signature{}, ErrMalformedSignature
			}
			sig.Timestamp, seenT = n, true
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return Signature{}, ErrMalformedSignature
			}
			sig.V1 = append(sig.V1, b)
		}
	}
	if !seenT || len(sig.V1) == 0 {
		return Signature{}, ErrMalformedSignature
	}
	return sig, nil
}

// Verify checks a delivery as a receiver should: the header parses, one v1
// signature is the HMAC of "<t>.<body>" under secret (compared in constant
// time), and t is within tolerance of now (zero tolerance: not checked).
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	sig, err := ParseSignature(header)
	if err != nil {
		return err
	}
	want := mac(secret, strconv.FormatInt(sig.Timestamp, 10), body)
	ok := false
	for _, v := range sig.V1 {
		ok = hmac.Equal(v, want) || ok
	}
	if !ok {
		return ErrBadSignature
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(sig.Timestamp, 0)); d > tolerance || d < -tolerance {
			return ErrStaleSignature
		}
	}
	return nil
}

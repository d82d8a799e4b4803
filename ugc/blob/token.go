package blob

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cassandranet/cassnet/consensus"
)

// Tokens are "<expiry unix seconds>.<base64url HMAC-SHA256>", carried in the
// query parameter "t". The MAC covers a purpose ("upload" or "blob"), the
// subject (the upload id, or the blob key, holder and filename) and the
// expiry, so a token for one resource or purpose never opens another.

const maxTokenLen = 128

// DeriveSigningKey derives the URL signing key from a per-cluster secret
// (the node passes the replicated cluster signing key's seed), so that
// every node computes the same key and the key is never reused verbatim
// for another purpose.
func DeriveSigningKey(clusterSecret []byte) []byte {
	m := hmac.New(sha256.New, clusterSecret)
	m.Write([]byte("cassnet/ugc/url-signing/v1"))
	return m.Sum(nil)
}

func mac(key []byte, purpose, subject string, exp int64) []byte {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "cassnet-ugc\x00%s\x00%d\x00%s", purpose, exp, subject)
	return m.Sum(nil)
}

func signToken(key []byte, purpose, subject string, exp time.Time) string {
	e := exp.Unix()
	return strconv.FormatInt(e, 10) + "." + base64.RawURLEncoding.EncodeToString(mac(key, purpose, subject, e))
}

// parseToken splits a token without checking it.
func parseToken(tok string) (exp int64, sig []byte, err error) {
	if len(tok) == 0 || len(tok) > maxTokenLen {
		return 0, nil, ErrBadToken
	}
	es, ss, ok := strings.Cut(tok, ".")
	if !ok || len(es) == 0 || len(es) > 12 {
		return 0, nil, ErrBadToken
	}
	for _, c := range es {
		if c < '0' || c > '9' {
			return 0, nil, ErrBadToken
		}
	}
	exp, err = strconv.ParseInt(es, 10, 64)
	if err != nil {
		return 0, nil, ErrBadToken
	}
	sig, err = base64.RawURLEncoding.Strict().DecodeString(ss)
	if err != nil || len(sig) != sha256.Size {
		return 0, nil, ErrBadToken
	}
	return exp, sig, nil
}

// verifyToken checks tok for purpose and subject at now against keys, in
// constant time over the MAC.
func verifyToken(keys [][]byte, purpose, subject, tok string, now time.Time) error {
	exp, sig, err := parseToken(tok)
	if err != nil {
		return err
	}
	ok := false
	for _, key := range keys {
		if hmac.Equal(sig, mac(key, purpose, subject, exp)) {
			ok = true
		}
	}
	if !ok {
		return ErrBadToken
	}
	if now.Unix() >= exp {
		return ErrExpired
	}
	return nil
}

// Upload ids are "L<32 hex>.<base64url(node)>" for the local store (the
// node is the holder, so any node can route the request there) and
// "S<32 hex>" for the s3 store (any node serves it).
const maxIDLen = 200

func parseUploadID(id string) (store, holder string, err error) {
	if len(id) < 33 || len(id) > maxIDLen {
		return "", "", ErrNotFound
	}
	if !isHex(id[1:33]) {
		return "", "", ErrNotFound
	}
	switch id[0] {
	case 'S':
		if len(id) != 33 {
			return "", "", ErrNotFound
		}
		return StoreS3, "", nil
	case 'L':
		if len(id) < 35 || id[33] != '.' {
			return "", "", ErrNotFound
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(id[34:])
		if err != nil || !validName(string(b)) {
			return "", "", ErrNotFound
		}
		return StoreLocal, string(b), nil
	}
	return "", "", ErrNotFound
}

func newUploadID(store, node string, random [16]byte) string {
	h := hex.EncodeToString(random[:])
	if store == StoreS3 {
		return "S" + h
	}
	return "L" + h + "." + base64.RawURLEncoding.EncodeToString([]byte(node))
}

// parseBlobPath parses "tenant/project/sha256" (the part after BlobsPath).
func parseBlobPath(p string) (tenant, project, sum string, err error) {
	if len(p) > 300 {
		return "", "", "", ErrNotFound
	}
	parts := strings.Split(p, "/")
	if len(parts) != 3 || !validName(parts[0]) || !validName(parts[1]) || !validSHA256(parts[2]) {
		return "", "", "", ErrNotFound
	}
	return parts[0], parts[1], parts[2], nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func validSHA256(s string) bool { return len(s) == 64 && isHex(s) }

// validName accepts the identifiers used for tenants, projects and nodes
// (consensus.ValidateIdentifier) that do not start with a dot. They become
// path elements and S3 key elements, so "." and ".." never get through.
func validName(s string) bool {
	return consensus.ValidateIdentifier("name", s) == nil && s[0] != '.'
}

var errShortKey = errors.New("blob: no signing key of at least 32 bytes")

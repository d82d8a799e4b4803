package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/cassandranet/cassnet/api"
)

// Cookie and header names.
const (
	CookieName = "cass_session"
	CSRFHeader = "X-CSRF-Token"
)

// tokenLen is the length of a session id and of a CSRF token: 32 random
// bytes in unpadded base64url.
const tokenLen = 43

// errNoSession is returned for a missing, malformed, unknown or expired
// session.
var errNoSession = errors.New("no live console session")

// session is one logged-in browser.
type session struct {
	cred      string // the credential pasted at login
	csrf      string
	principal api.Principal
	expires   time.Time
}

// store holds the live sessions of this node, keyed by SHA-256 of the
// cookie value. It is safe for concurrent use.
type store struct {
	mu   sync.Mutex
	max  int
	byID map[[sha256.Size]byte]*session
}

func newStore(max int) *store {
	return &store{max: max, byID: make(map[[sha256.Size]byte]*session)}
}

// randomToken returns 32 random bytes in unpadded base64url.
func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// validToken reports whether s has the shape of a session id or CSRF
// token: exactly tokenLen base64url characters.
func validToken(s string) bool {
	if len(s) != tokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// create stores a new session and returns its id (the cookie value).
func (st *store) create(cred string, p api.Principal, now time.Time, ttl time.Duration) (string, *session, error) {
	id, err := randomToken()
	if err != nil {
		return "", nil, err
	}
	csrf, err := randomToken()
	if err != nil {
		return "", nil, err
	}
	s := &session{cred: cred, csrf: csrf, principal: p, expires: now.Add(ttl)}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.byID) >= st.max {
		st.sweepLocked(now)
	}
	if len(st.byID) >= st.max {
		return "", nil, errors.New("too many console sessions on this node")
	}
	st.byID[sha256.Sum256([]byte(id))] = s
	return id, s, nil
}

// sweepLocked drops expired sessions.
func (st *store) sweepLocked(now time.Time) {
	for k, s := range st.byID {
		if !now.Before(s.expires) {
			delete(st.byID, k)
		}
	}
}

// get returns the live session for a cookie value.
func (st *store) get(id string, now time.Time) (*session, error) {
	if !validToken(id) {
		return nil, errNoSession
	}
	k := sha256.Sum256([]byte(id))
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byID[k]
	if !ok {
		return nil, errNoSession
	}
	if !now.Before(s.expires) {
		delete(st.byID, k)
		return nil, errNoSession
	}
	return s, nil
}

// remove ends a session.
func (st *store) remove(id string) {
	if !validToken(id) {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.byID, sha256.Sum256([]byte(id)))
}

// len is the number of stored sessions, live or not yet swept.
func (st *store) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.byID)
}

// safeMethod reports whether a method cannot change anything, so needs no
// CSRF token.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// csrfOK compares the presented CSRF token with the session's in
// constant time.
func csrfOK(s *session, presented string) bool {
	return subtle.ConstantTimeCompare([]byte(presented), []byte(s.csrf)) == 1
}

// sessionCookie returns the session cookie's value in r, if any. Only the
// first cookie of that name counts.
func sessionCookie(r *http.Request) (string, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// resolve is Credential's logic: the session of r, the credential it
// stands for, and for a mutating method whether the CSRF token matches.
func (st *store) resolve(r *http.Request, now time.Time) (cred string, ok bool, err error) {
	id, has := sessionCookie(r)
	if !has {
		return "", false, nil
	}
	s, gerr := st.get(id, now)
	if gerr != nil {
		return "", false, nil
	}
	if !safeMethod(r.Method) && !csrfOK(s, r.Header.Get(CSRFHeader)) {
		return "", false, api.ErrCSRF
	}
	return s.cred, true, nil
}

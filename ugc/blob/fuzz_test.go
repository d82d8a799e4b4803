package blob

import (
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strings"
	"testing"
	"time"
)

// FuzzToken: the token parser never panics, never accepts a token it did
// not mint for that purpose and subject, and round-trips what it mints.
func FuzzToken(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	good := signToken(testKey, "upload", "Sabc", now.Add(time.Hour))
	for _, s := range []string{good, "", ".", "1.", ".AAAA", "99999999999999999999.x", good + "A", "-1." + good[11:],
		"1800003600.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", strings.Repeat("9", 200)} {
		f.Add(s, "Sabc")
	}
	f.Fuzz(func(t *testing.T, tok, subject string) {
		exp, sig, err := parseToken(tok)
		if err == nil && (len(sig) != 32 || exp < 0) {
			t.Fatalf("parsed %q into exp %d, %d-byte sig", tok, exp, len(sig))
		}
		if verifyToken([][]byte{testKey}, "upload", subject, tok, now) == nil {
			if tok != signToken(testKey, "upload", subject, time.Unix(exp, 0)) {
				t.Fatalf("accepted a token it did not mint: %q for %q", tok, subject)
			}
		}
		if verifyToken([][]byte{testKey}, "blob", subject, tok, now) == nil && verifyToken([][]byte{testKey}, "upload", subject, tok, now) == nil {
			t.Fatal("one token valid for two purposes")
		}
		minted := signToken(testKey, "upload", subject, now.Add(time.Minute))
		if err := verifyToken([][]byte{testKey}, "upload", subject, minted, now); err != nil {
			t.Fatalf("own token refused: %v", err)
		}
	})
}

// FuzzParseUploadID and FuzzParseBlobPath: ids and paths that become file
// names and S3 keys; whatever they accept is safe as a path element.
func FuzzParseUploadID(f *testing.F) {
	var r [16]byte
	f.Add(newUploadID(StoreLocal, "node-1", r))
	f.Add(newUploadID(StoreS3, "", r))
	f.Add("L" + strings.Repeat("0", 32) + ".Li4")
	f.Add("S" + strings.Repeat("0", 32) + "/../x")
	f.Fuzz(func(t *testing.T, id string) {
		store, holder, err := parseUploadID(id)
		if err != nil {
			return
		}
		if strings.ContainsAny(id, "/\\\x00") || strings.Contains(id, "..") {
			t.Fatalf("accepted unsafe id %q", id)
		}
		if store == StoreLocal && (!validName(holder) || holder == "." || holder == "..") {
			t.Fatalf("id %q gives holder %q", id, holder)
		}
	})
}

func FuzzParseBlobPath(f *testing.F) {
	f.Add("acme/game1/" + strings.Repeat("a", 64))
	f.Add("../game1/" + strings.Repeat("a", 64))
	f.Add("a/b/c/d")
	f.Fuzz(func(t *testing.T, p string) {
		tenant, project, s, err := parseBlobPath(p)
		if err != nil {
			return
		}
		for _, e := range []string{tenant, project, s} {
			if e == "" || e == "." || e == ".." || strings.ContainsAny(e, "/\\\x00") {
				t.Fatalf("accepted unsafe element %q of %q", e, p)
			}
		}
	})
}

// FuzzUploadRequest throws arbitrary tus requests (method, path, query,
// Upload-Offset, Content-Type, body) at the handler: it must never panic,
// and never answer 2xx to a request without a valid token.
func FuzzUploadRequest(f *testing.F) {
	dir := f.TempDir()
	svc, err := New(Config{Node: "node-a", DataDir: dir, SigningKey: testKey, PublicURL: "http://node-a"})
	if err != nil {
		f.Fatal(err)
	}
	url, err := svc.Create(t0ctx(), testUpload(StoreLocal, []byte("hello")))
	if err != nil {
		f.Fatal(err)
	}
	valid := strings.TrimPrefix(url, "http://node-a")
	f.Add("PATCH", valid, "0", "application/offset+octet-stream", []byte("hel"))
	f.Add("HEAD", valid, "", "", []byte(nil))
	f.Add("PATCH", valid, "-1", "application/offset+octet-stream", []byte("x"))
	f.Add("PATCH", valid, "99999999999999999999", "application/offset+octet-stream", []byte("x"))
	f.Add("DELETE", valid+"x", "", "", []byte(nil))
	f.Add("GET", BlobsPath+"acme/game1/"+strings.Repeat("a", 64)+"?h=node-a&t=1.AA", "", "", []byte(nil))
	f.Add("POST", UploadsPath, "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, method, target, offset, ctype string, body []byte) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") || len(target) > 2000 {
			return
		}
		if _, err := neturl.ParseRequestURI("http://node-a" + target); err != nil {
			return
		}
		switch method {
		case "GET", "HEAD", "PATCH", "DELETE", "POST", "OPTIONS", "PUT":
		default:
			return
		}
		req := httptest.NewRequest(method, "http://node-a"+target, strings.NewReader(string(body)))
		req.Header.Set("Tus-Resumable", "1.0.0")
		if offset != "" {
			req.Header.Set("Upload-Offset", offset)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		w := httptest.NewRecorder()
		svc.Handler().ServeHTTP(w, req)
		if w.Code/100 == 2 && method != "OPTIONS" && !strings.HasPrefix(target, valid) {
			t.Fatalf("%s %s answered %d without the valid token", method, target, w.Code)
		}
		if w.Code == http.StatusInternalServerError {
			t.Fatalf("%s %s: 500 %s", method, target, w.Body)
		}
	})
}

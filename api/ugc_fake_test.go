package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/ugc/blob"
)

// fakeUGC is a blob service that stores nothing: uploads and downloads get
// URLs on a node that does not exist.
type fakeUGC struct{}

func (fakeUGC) Create(_ context.Context, u blob.Upload) (string, error) {
	if u.Filename == "fail.zip" {
		return "", blob.ErrInvalid
	}
	return "http://node-a/v1/ugc/uploads/" + u.Version + "?t=x", nil
}

func (fakeUGC) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
}

func (fakeUGC) DownloadURL(_ context.Context, ref blob.Ref, name string, _ time.Duration) (string, error) {
	return "http://" + ref.Holder + "/v1/ugc/blobs/" + ref.Key() + "?f=" + name, nil
}

func (fakeUGC) Delete(context.Context, blob.Ref) error { return nil }

const (
	fixtureItem    = "itm_fixture"
	fixtureVersion = "ver_fixture"
	fixtureSHA     = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// ugcFixture gives acme/rocket a studio item with a published version.
func ugcFixture(h *harness) {
	h.replicate(&cassnetv1.Command{Op: &cassnetv1.Command_CreateUgcItem{CreateUgcItem: &cassnetv1.CreateUGCItem{
		Tenant: "acme", Project: "rocket", Id: fixtureItem, Owner: "studio", Title: "Fixture map", Visibility: "public", Tags: []string{"map"}}}})
	h.replicate(&cassnetv1.Command{Op: &cassnetv1.Command_CreateUgcVersion{CreateUgcVersion: &cassnetv1.CreateUGCVersion{
		Tenant: "acme", Project: "rocket", Item: fixtureItem, Id: fixtureVersion, Filename: "map.zip", Size: 10,
		Sha256: fixtureSHA, ContentType: "application/zip", Store: "local", ExpiresUnixNano: h.clock.Now().Add(time.Hour).UnixNano()}}})
	h.replicate(&cassnetv1.Command{Op: &cassnetv1.Command_PublishUgcVersion{PublishUgcVersion: &cassnetv1.PublishUGCVersion{
		Tenant: "acme", Project: "rocket", Item: fixtureItem, Id: fixtureVersion, Store: "local", Holder: "node-a"}}})
}

// ugcMatrixBodies are the authorisation matrix's bodies for the UGC routes.
var ugcMatrixBodies = map[string]string{
	"POST " + ugcItems:                                         `{"title":"New map","tags":["map"]}`,
	"PATCH " + ugcItem:                                         `{"title":"Renamed"}`,
	"POST " + ugcItem + "/versions":                            `{"filename":"a.zip","size":10,"sha256":"` + strings.Repeat("ab", 32) + `","content_type":"application/zip"}`,
	"POST " + ugcItem + "/reports":                             `{"reason":"spam"}`,
	"POST " + ugcItem + "/moderation":                          `{"action":"approve"}`,
	"PUT /v1/tenants/{tenant}/projects/{project}/ugc/settings": `{"max_file_size":1048576}`,
}

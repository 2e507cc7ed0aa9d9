package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"
	"golang.org/x/crypto/bcrypt"

	"userimages/claimhook"
	"userimages/composer"
	"userimages/core"
	"userimages/httpapi"
	"userimages/internal/testkit/embeddedtest"
	"userimages/localdisk"
	"userimages/metrics"
	"userimages/ratelimit"
	"userimages/stdwebhook"
)

// docCase is one request to a fresh server, whose exchange is checked
// against openapi.json.
type docCase struct {
	name      string
	configure []func(*testing.T, *httpapi.Config)
	// req may run earlier steps on the server; the request it returns is
	// the one checked.
	req func(t *testing.T, e *env) *http.Request
}

func withMetrics(_ *testing.T, c *httpapi.Config) { c.Metrics = metrics.New() }

func withComposer(brands func(context.Context) ([]string, error)) func(*testing.T, *httpapi.Config) {
	return func(_ *testing.T, c *httpapi.Config) {
		c.Composer = composer.Handler(composer.Config{Brands: brands,
			MaxFileSize: core.DefaultMaxFileSize, ContentTypes: core.DefaultContentTypes})
	}
}

// limitedTo limits one route ("create", "put" or "claim"), or requests with
// credentials ("auth"), to one request an hour per client.
func limitedTo(route string) func(*testing.T, *httpapi.Config) {
	return func(t *testing.T, c *httpapi.Config) {
		one := ratelimit.PerPeriod(1, time.Hour)
		var l httpapi.RateLimits
		switch route {
		case "create":
			l.Create = one
		case "put":
			l.Put = one
		case "claim":
			l.Claim = one
		case "auth":
			l.Auth = one
		case "report":
			l.Report = one
		default:
			t.Fatalf("no route %q", route)
		}
		withLimits(memLimiter(t), l)(c)
	}
}

// keepMetadata moves e onto a service that keeps image metadata, on the
// same stores.
func keepMetadata(t *testing.T, e *env) {
	t.Helper()
	blobs, err := localdisk.Open(filepath.Join(e.dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	st := embeddedtest.MetadataOn(e.db)
	st.Blobs, st.Signer, st.Scratch, st.Now, st.Log = blobs, e.signer, blobs, e.Now, e.log
	svc, err := core.NewServices(core.Config{PasswordCost: bcrypt.MinCost, KeepMetadata: true}, st)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.srv = e.newServer()
}

// rewire moves e onto a service on the same stores, with the dependencies
// change makes.
func rewire(t *testing.T, e *env, change func(d *core.Stores)) {
	t.Helper()
	disk, err := localdisk.Open(filepath.Join(e.dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	d := embeddedtest.MetadataOn(e.db)
	d.Blobs, d.Signer, d.Scratch, d.Now, d.Log = disk, e.signer, disk, e.Now, e.log
	change(&d)
	if e.svc, err = core.NewServices(core.Config{PasswordCost: bcrypt.MinCost}, d); err != nil {
		t.Fatal(err)
	}
	e.srv = e.newServer()
}

// failBlobs moves e onto a service whose image store fails every Put with
// err.
func failBlobs(t *testing.T, e *env, err error) {
	rewire(t, e, func(d *core.Stores) { d.Blobs = failingPuts{BlobStore: d.Blobs, err: err} })
}

// verdictOf is a claim hook answering v, or err.
type verdictOf struct {
	v   core.ClaimVerdict
	err error
}

func (r verdictOf) Review(context.Context, core.ClaimReview) (core.ClaimVerdict, error) {
	return r.v, r.err
}

// reviewBytesPath moves e onto a server serving the claim hook's bytes
// URLs from e's image store (wrapped by wrap, when set), uploads body and
// returns the path and query of its bytes URL; before, when set, is given
// the store and the key of the bytes first.
func reviewBytesPath(t *testing.T, e *env, body []byte, wrap func(core.BlobStore) core.BlobStore, before func(core.BlobStore, string)) string {
	t.Helper()
	disk, err := localdisk.Open(filepath.Join(e.dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var blobs core.BlobStore = disk
	if wrap != nil {
		blobs = wrap(disk)
	}
	key, _, err := stdwebhook.NewSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hook, err := claimhook.New(claimhook.Config{URL: "http://127.0.0.1:9/hook", Secret: key, BytesBaseURL: "http://review.example", Now: e.Now}, blobs)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = e.newServer(func(c *httpapi.Config) { c.ReviewBytes, c.ReviewPath = hook, claimhook.PathPrefix })
	u := e.create("image/jpeg", len(body))
	e.put(u, body)
	st, err := e.db.TokenStatus(t.Context(), u.Token)
	if err != nil || st.Upload == nil {
		t.Fatalf("TokenStatus: %+v, %v", st, err)
	}
	if before != nil {
		before(disk, core.ImageKey(st.Upload.ImageID))
	}
	raw, _ := hook.BytesURL(st.Upload.ImageID, "image/jpeg")
	return strings.TrimPrefix(raw, "http://review.example")
}

// failingOpens is a blob store whose Opens fail, marked as the store's
// fault as an adapter marks it.
type failingOpens struct{ core.BlobStore }

func (failingOpens) Open(context.Context, string) (core.Blob, error) {
	return nil, core.StoreFault(syscall.EIO)
}

// failingPuts is a blob store whose Puts fail with err, marked as the
// store's fault as an adapter marks it.
type failingPuts struct {
	core.BlobStore
	err error
}

func (f failingPuts) Put(context.Context, string, io.Reader) error { return core.StoreFault(f.err) }

// fullDB is an upload store whose every write finds the disk full.
type fullDB struct {
	core.UploadStore
	core.UploadExpirer
}

func (fullDB) CreateUpload(context.Context, core.Upload) error { return core.ErrFull }
func (fullDB) ClaimUpload(context.Context, core.UploadClaim) (core.Image, error) {
	return core.Image{}, core.ErrFull
}

// stagedSigner signs as s does, but is no core.UploadCarrier: the service
// then records uploads at step 1, as with an object store.
type stagedSigner struct{ s core.UploadSigner }

func (g stagedSigner) PresignPut(ctx context.Context, p core.PresignParams) (core.UploadTarget, error) {
	return g.s.PresignPut(ctx, p)
}

// withJPEGComment inserts a comment segment after a JPEG's SOI marker.
func withJPEGComment(j []byte, comment string) []byte {
	seg := []byte{0xFF, 0xFE, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(comment)+2))
	out := append(append([]byte{}, j[:2]...), seg...)
	out = append(out, comment...)
	return append(out, j[2:]...)
}

func addAdmin(t *testing.T, e *env) {
	t.Helper()
	if _, err := e.svc.Accounts.AddUser(context.Background(), "mod@example.com", "moderator pw", true); err != nil {
		t.Fatal(err)
	}
}

func docCases(t *testing.T) []docCase {
	img := testJPEG(t, 32, 24)
	goodCreate := fmt.Sprintf(`{"content_type":"image/jpeg","file_size":%d}`, len(img))
	brands := func(context.Context) ([]string, error) { return []string{"10016"}, nil }
	failingBrands := func(context.Context) ([]string, error) { return nil, errors.New("store down") }
	cfg := func(fs ...func(*testing.T, *httpapi.Config)) []func(*testing.T, *httpapi.Config) { return fs }

	req := func(method, path, body string, header ...string) func(*testing.T, *env) *http.Request {
		return func(t *testing.T, e *env) *http.Request {
			r := e.request(method, path, strings.NewReader(body))
			for i := 0; i+1 < len(header); i += 2 {
				r.Header.Set(header[i], header[i+1])
			}
			return r
		}
	}
	get := func(path string, header ...string) func(*testing.T, *env) *http.Request {
		return req(http.MethodGet, path, "", header...)
	}
	asAnn := func(r *http.Request) *http.Request { r.SetBasicAuth("ann@example.com", "correct horse"); return r }
	asMod := func(r *http.Request) *http.Request { r.SetBasicAuth("mod@example.com", "moderator pw"); return r }
	wrongPassword := func(r *http.Request) *http.Request { r.SetBasicAuth("ann@example.com", "wrong horse"); return r }
	// etagOf gets path and returns its ETag.
	etagOf := func(t *testing.T, e *env, path string) string {
		etag := e.do(e.request(http.MethodGet, path, nil)).header.Get("ETag")
		if etag == "" {
			t.Fatalf("GET %s: no ETag", path)
		}
		return etag
	}
	claimReq := func(e *env, token, brand string) *http.Request {
		return e.request(http.MethodPost, claimPath, strings.NewReader(e.claimBody(token, brand)))
	}
	// uploaded runs steps 1 and 2 with body.
	uploaded := func(e *env, contentType string, body []byte) upload {
		u := e.create(contentType, len(body))
		e.put(u, body)
		return u
	}
	// claimOf runs steps 1 and 2 with body and returns the claim.
	claimOf := func(body []byte) func(*testing.T, *env) *http.Request {
		return func(t *testing.T, e *env) *http.Request {
			return claimReq(e, uploaded(e, "image/jpeg", body).Token, "10016")
		}
	}
	putOf := func(size int, body []byte) func(*testing.T, *env) *http.Request {
		return func(t *testing.T, e *env) *http.Request { return e.putRequest(e.create("image/jpeg", size), body) }
	}
	// reportReq reports a new image with body.
	reportReq := func(body string) func(*testing.T, *env) *http.Request {
		return func(t *testing.T, e *env) *http.Request {
			_, path := e.claimed("image/jpeg", img)
			return e.request(http.MethodPost, "/api/v2/guide/user_images/"+strings.TrimPrefix(path, "/hc/user_images/")+"/reports", strings.NewReader(body))
		}
	}
	deleteReq := func(auth func(*http.Request) *http.Request, query string) func(*testing.T, *env) *http.Request {
		return func(t *testing.T, e *env) *http.Request {
			addAdmin(t, e)
			_, path := e.claimed("image/jpeg", img)
			r := e.request(http.MethodDelete, "/api/v2/guide/user_images/"+strings.TrimPrefix(path, "/hc/user_images/")+query, nil)
			if auth != nil {
				r = auth(r)
			}
			return r
		}
	}

	// deleteWithToken is a DELETE with the upload token of the image, or
	// of another upload.
	deleteWithToken := func(its bool) func(*testing.T, *env) *http.Request {
		return func(t *testing.T, e *env) *http.Request {
			up, path := e.claimed("image/jpeg", img)
			if !its {
				up = e.create("image/jpeg", len(img))
			}
			r := e.request(http.MethodDelete, "/api/v2/guide/user_images/"+strings.TrimPrefix(path, "/hc/user_images/"), nil)
			r.Header.Set(api.UploadTokenHeader, up.Token)
			return r
		}
	}

	cases := []docCase{
		// Operations.
		{"healthz", nil, get("/healthz")},
		{"readyz", nil, get("/readyz")},
		{"readyz: store down", nil, func(t *testing.T, e *env) *http.Request {
			e.db.Close()
			return get("/readyz")(t, e)
		}},
		{"metrics", cfg(withMetrics), get("/metrics")},
		{"metrics: off", nil, get("/metrics")},
		{"metrics: on a listener of their own", cfg(withMetrics, func(_ *testing.T, c *httpapi.Config) { c.HideMetrics = true }), get("/metrics")},
		{"openapi", nil, get("/api/openapi.json")},
		{"openapi: POST", nil, req(http.MethodPost, "/api/openapi.json", "{}")},
		{"unknown route", nil, get("/api/v2/nope")},

		// Composer.
		{"root", cfg(withComposer(brands)), get("/")},
		{"root: no composer", nil, get("/")},
		{"composer", cfg(withComposer(brands)), get("/composer/")},
		{"composer: not modified", cfg(withComposer(brands)), func(t *testing.T, e *env) *http.Request {
			return get("/composer/", "If-None-Match", etagOf(t, e, "/composer/"))(t, e)
		}},
		{"composer: off", nil, get("/composer/")},
		{"composer: POST", cfg(withComposer(brands)), req(http.MethodPost, "/composer/", "{}")},
		{"composer config", cfg(withComposer(brands)), get("/composer/config.json")},
		{"composer config: brands fail", cfg(withComposer(failingBrands)), get("/composer/config.json")},
		{"composer config: off", nil, get("/composer/config.json")},
		{"composer script", cfg(withComposer(brands)), get("/composer/composer.js")},
		{"composer style", cfg(withComposer(brands)), get("/composer/composer.css")},
		{"composer script: not modified", cfg(withComposer(brands)), func(t *testing.T, e *env) *http.Request {
			return get("/composer/composer.js", "If-None-Match", etagOf(t, e, "/composer/composer.js"))(t, e)
		}},
		{"composer asset: unknown", cfg(withComposer(brands)), get("/composer/nope.js")},
		{"composer asset: off", nil, get("/composer/composer.js")},

		// Who the caller is, as Zendesk's help-center theme asks first.
		{"me: anonymous", nil, get("/api/v2/users/me")},
		{"me.json: anonymous", nil, get("/api/v2/users/me.json")},
		{"me: user", nil, func(t *testing.T, e *env) *http.Request { return asAnn(get("/api/v2/users/me")(t, e)) }},
		{"me.json: admin", nil, func(t *testing.T, e *env) *http.Request {
			addAdmin(t, e)
			return asMod(get("/api/v2/users/me.json")(t, e))
		}},
		{"me: wrong password", nil, func(t *testing.T, e *env) *http.Request { return wrongPassword(get("/api/v2/users/me")(t, e)) }},
		{"me: over the credentials budget", cfg(limitedTo("auth")), func(t *testing.T, e *env) *http.Request {
			e.do(asAnn(get("/api/v2/users/me")(t, e)))
			return asAnn(get("/api/v2/users/me")(t, e))
		}},
		{"me: store down", nil, func(t *testing.T, e *env) *http.Request {
			e.db.Close()
			return asAnn(get("/api/v2/users/me")(t, e))
		}},
		{"me: POST", nil, req(http.MethodPost, "/api/v2/users/me.json", "{}")},

		// Step 1.
		{"create", nil, req(http.MethodPost, createPath, goodCreate)},
		{"create: .json, as Zendesk's theme sends it", nil, req(http.MethodPost, createPath+".json", goodCreate,
			"Content-Type", "text/plain;charset=UTF-8", "X-CSRF-Token", "anything")},
		{"create: JSON content type", nil, req(http.MethodPost, createPath, goodCreate, "Content-Type", "application/json")},
		{"create: password", nil, func(t *testing.T, e *env) *http.Request {
			return asAnn(req(http.MethodPost, createPath, goodCreate)(t, e))
		}},
		{"create: API token", nil, func(t *testing.T, e *env) *http.Request {
			tok, err := e.svc.Accounts.NewAPIToken(context.Background(), "ann@example.com")
			if err != nil {
				t.Fatal(err)
			}
			r := req(http.MethodPost, createPath, goodCreate)(t, e)
			r.SetBasicAuth("ann@example.com/token", tok)
			return r
		}},
		{"create: bearer", nil, func(t *testing.T, e *env) *http.Request {
			tok, err := e.svc.Accounts.NewAPIToken(context.Background(), "ann@example.com")
			if err != nil {
				t.Fatal(err)
			}
			return req(http.MethodPost, createPath, goodCreate, "Authorization", "Bearer "+tok)(t, e)
		}},
		{"create: rate limited route", cfg(limitedTo("create")), req(http.MethodPost, createPath, goodCreate)},
		{"create: over the rate limit", cfg(limitedTo("create")), func(t *testing.T, e *env) *http.Request {
			e.create("image/jpeg", len(img))
			return req(http.MethodPost, createPath, goodCreate)(t, e)
		}},
		{"create: not JSON", nil, req(http.MethodPost, createPath, `{"content_type":`)},
		{"create: invalid Host", nil, func(t *testing.T, e *env) *http.Request {
			r := e.request(http.MethodPost, createPath, strings.NewReader(goodCreate))
			r.Host = "a%zz"
			return r
		}},
		{"create: body over 64 KiB", nil, req(http.MethodPost, createPath, `{"pad":"`+strings.Repeat("a", 70<<10)+`"}`)},
		{"create: file_size missing", nil, req(http.MethodPost, createPath, `{"content_type":"image/jpeg"}`)},
		{"create: text/html", nil, req(http.MethodPost, createPath, `{"content_type":"text/html","file_size":10}`)},
		{"create: file_size fraction", nil, req(http.MethodPost, createPath, `{"content_type":"image/png","file_size":1.5}`)},
		{"create: file_size over the limit", nil, req(http.MethodPost, createPath, `{"content_type":"image/png","file_size":2000001}`)},
		{"create: wrong password", nil, func(t *testing.T, e *env) *http.Request {
			return wrongPassword(req(http.MethodPost, createPath, goodCreate)(t, e))
		}},
		{"create: store down", nil, func(t *testing.T, e *env) *http.Request {
			// Step 1 stores nothing, but a login looks the user up.
			e.db.Close()
			r := req(http.MethodPost, createPath, goodCreate)(t, e)
			r.SetBasicAuth("ann@example.com", "correct horse")
			return r
		}},
		{"create: database full", nil, func(t *testing.T, e *env) *http.Request {
			// Step 1 writes only when the bytes go to an object store.
			rewire(t, e, func(d *core.Stores) { d.Uploads, d.Signer = fullDB{d.Uploads, d.Uploads}, stagedSigner{d.Signer} })
			return req(http.MethodPost, createPath, goodCreate)(t, e)
		}},
		{"create: GET", nil, get(createPath)},

		// Step 2.
		{"put", nil, putOf(len(img), img)},
		{"put: rate limited route", cfg(limitedTo("put")), putOf(len(img), img)},
		{"put: over the rate limit", cfg(limitedTo("put")), func(t *testing.T, e *env) *http.Request {
			uploaded(e, "image/jpeg", img)
			return putOf(len(img), img)(t, e)
		}},
		{"put: signature changed", nil, func(t *testing.T, e *env) *http.Request {
			u := e.create("image/jpeg", len(img))
			u.URL = strings.Replace(u.URL, "X-Amz-Signature=", "X-Amz-Signature=0", 1)
			return e.putRequest(u, img)
		}},
		{"put: expired", nil, func(t *testing.T, e *env) *http.Request {
			u := e.create("image/jpeg", len(img))
			e.Advance(time.Hour + time.Second)
			return e.putRequest(u, img)
		}},
		{"put: longer than declared", nil, putOf(len(img)-1, img)},
		{"put: shorter than declared", nil, putOf(len(img)+1, img)},
		{"put: again", nil, func(t *testing.T, e *env) *http.Request {
			return e.putRequest(uploaded(e, "image/jpeg", img), img)
		}},
		{"put: claim window passed", nil, func(t *testing.T, e *env) *http.Request {
			// A URL signed with the server's secret for a token older than
			// the claim window, as when URLs live as long as the window.
			const token = "01GC9JEN2X052BAKW905PH9C36"
			target, err := e.signer.PresignPut(context.Background(), core.PresignParams{
				BaseURL: e.srv.URL, Token: token, FileSize: int64(len(img)), Now: e.Now(), TTL: time.Hour,
				Headers: map[string]string{"Content-Disposition": `attachment; filename="` + token + `.jpeg"`,
					"Content-Type": "image/jpeg", "X-Amz-Server-Side-Encryption": "AES256"},
			})
			if err != nil {
				t.Fatal(err)
			}
			return e.putRequest(upload{Token: token, URL: target.URL, Headers: target.Headers}, img)
		}},
		{"put: PNG declared JPEG", nil, func(t *testing.T, e *env) *http.Request {
			p := testPNG(t, 10, 10)
			return e.putRequest(e.create("image/jpeg", len(p)), p)
		}},
		{"put: PNG bomb", nil, func(t *testing.T, e *env) *http.Request {
			p := pngWithDims(t, 30000, 30000)
			return e.putRequest(e.create("image/png", len(p)), p)
		}},
		{"put: wrong password", nil, func(t *testing.T, e *env) *http.Request {
			return wrongPassword(putOf(len(img), img)(t, e))
		}},
		{"put: over the upload cap", cfg(func(_ *testing.T, c *httpapi.Config) { c.MaxConcurrentUploads = 1 }), func(t *testing.T, e *env) *http.Request {
			_, br := rawPut(t, e.create("image/jpeg", len(img)), len(img), true)
			if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
				t.Fatalf("held PUT: got %q, %v; want 100 Continue", line, err)
			}
			return putOf(len(img), img)(t, e)
		}},
		{"put: store down", nil, func(t *testing.T, e *env) *http.Request {
			u := e.create("image/jpeg", len(img))
			e.db.Close()
			return e.putRequest(u, img)
		}},
		{"put: corrupt JPEG", nil, func(t *testing.T, e *env) *http.Request {
			i := bytes.Index(img, []byte{0xFF, 0xC0})
			return putOf(len(img)+2, append(append(append([]byte{}, img[:i]...), 0x00, 0x01), img[i:]...))(t, e)
		}},
		{"put: truncated JPEG", nil, putOf(len(img)-30, img[:len(img)-30])},
		{"put: JPEG too wide", nil, func(t *testing.T, e *env) *http.Request {
			j := jpegWithDims(t, 30000, 10)
			return putOf(len(j), j)(t, e)
		}},
		{"put: script in kept metadata", nil, func(t *testing.T, e *env) *http.Request {
			keepMetadata(t, e)
			j := withJPEGComment(img, "<script>alert(1)</script>")
			return putOf(len(j), j)(t, e)
		}},
		{"put: blocked bytes", nil, func(t *testing.T, e *env) *http.Request {
			addAdmin(t, e)
			_, path := e.claimed("image/jpeg", img)
			del := asMod(e.request(http.MethodDelete, "/api/v2/guide/user_images/"+strings.TrimPrefix(path, "/hc/user_images/")+"?block=true", nil))
			if res := e.do(del); res.status != http.StatusNoContent {
				t.Fatalf("delete: got %d %s, want 204", res.status, res.body)
			}
			return putOf(len(img), img)(t, e)
		}},
		{"put: disk full", nil, func(t *testing.T, e *env) *http.Request {
			failBlobs(t, e, syscall.ENOSPC)
			return putOf(len(img), img)(t, e)
		}},
		{"put: image store failing", nil, func(t *testing.T, e *env) *http.Request {
			failBlobs(t, e, syscall.EIO)
			return putOf(len(img), img)(t, e)
		}},
		{"put: GET", nil, func(t *testing.T, e *env) *http.Request {
			return e.request(http.MethodGet, "/uploads/"+e.create("image/jpeg", len(img)).Token, nil)
		}},

		// Step 3.
		{"claim", nil, claimOf(img)},
		{"claim: .json", nil, func(t *testing.T, e *env) *http.Request {
			token := uploaded(e, "image/jpeg", img).Token
			return e.request(http.MethodPost, claimPath+".json", strings.NewReader(e.claimBody(token, "10016")))
		}},
		{"claim: brand as a number", nil, func(t *testing.T, e *env) *http.Request {
			u := uploaded(e, "image/jpeg", img)
			return req(http.MethodPost, claimPath, `{"token":"`+u.Token+`","brand_id":10016}`)(t, e)
		}},
		{"claim: rate limited route", cfg(limitedTo("claim")), claimOf(img)},
		{"claim: over the rate limit", cfg(limitedTo("claim")), func(t *testing.T, e *env) *http.Request {
			u := uploaded(e, "image/jpeg", img)
			e.do(claimReq(e, u.Token, "10016"))
			return claimReq(e, u.Token, "10016")
		}},
		{"claim: not JSON", nil, req(http.MethodPost, claimPath, `{token}`)},
		{"claim: body over 64 KiB", nil, req(http.MethodPost, claimPath, `{"pad":"`+strings.Repeat("a", 70<<10)+`"}`)},
		{"claim: token malformed", nil, req(http.MethodPost, claimPath, `{"token":"../x","brand_id":"10016"}`)},
		{"claim: token unknown", nil, req(http.MethodPost, claimPath, `{"token":"01GC9JEN2X052BAKW905PH9C36","brand_id":"10016"}`)},
		{"claim: before the PUT", nil, func(t *testing.T, e *env) *http.Request {
			return claimReq(e, e.create("image/jpeg", len(img)).Token, "10016")
		}},
		{"claim: refused by the claim hook", nil, func(t *testing.T, e *env) *http.Request {
			rewire(t, e, func(d *core.Stores) { d.Reviewer = verdictOf{v: core.ClaimVerdict{Reason: "not on this forum"}} })
			return claimOf(img)(t, e)
		}},
		{"claim: claim hook failing", nil, func(t *testing.T, e *env) *http.Request {
			rewire(t, e, func(d *core.Stores) { d.Reviewer = verdictOf{err: errors.New("the hook answered 500")} })
			return claimOf(img)(t, e)
		}},
		{"claim hook bytes", nil, func(t *testing.T, e *env) *http.Request {
			return e.request(http.MethodGet, reviewBytesPath(t, e, img, nil, nil), nil)
		}},
		{"claim hook bytes: changed URL", nil, func(t *testing.T, e *env) *http.Request {
			path := reviewBytesPath(t, e, img, nil, nil)
			return e.request(http.MethodGet, strings.Replace(path, "expires=", "expires=9", 1), nil)
		}},
		{"claim hook bytes: gone", nil, func(t *testing.T, e *env) *http.Request {
			return e.request(http.MethodGet, reviewBytesPath(t, e, img, nil, func(b core.BlobStore, key string) {
				if err := b.Delete(t.Context(), key); err != nil {
					t.Fatal(err)
				}
			}), nil)
		}},
		{"claim hook bytes: store failing", nil, func(t *testing.T, e *env) *http.Request {
			return e.request(http.MethodGet, reviewBytesPath(t, e, img, func(b core.BlobStore) core.BlobStore { return failingOpens{b} }, nil), nil)
		}},
		{"claim: claimed for another brand", nil, func(t *testing.T, e *env) *http.Request {
			u, _ := e.claimed("image/jpeg", img)
			return claimReq(e, u.Token, "20000")
		}},
		{"claim: after the claim window", nil, func(t *testing.T, e *env) *http.Request {
			u := uploaded(e, "image/jpeg", img)
			e.Advance(24*time.Hour + time.Second)
			return claimReq(e, u.Token, "10016")
		}},
		{"claim: brand unknown", nil, func(t *testing.T, e *env) *http.Request {
			return claimReq(e, uploaded(e, "image/jpeg", img).Token, "99999")
		}},
		{"claim: wrong password", nil, func(t *testing.T, e *env) *http.Request {
			return wrongPassword(claimOf(img)(t, e))
		}},
		{"claim: store down", nil, func(t *testing.T, e *env) *http.Request {
			u := uploaded(e, "image/jpeg", img)
			e.db.Close()
			return claimReq(e, u.Token, "10016")
		}},
		{"claim: database full", nil, func(t *testing.T, e *env) *http.Request {
			u := uploaded(e, "image/jpeg", img)
			rewire(t, e, func(d *core.Stores) { d.Uploads = fullDB{d.Uploads, d.Uploads} })
			return claimReq(e, u.Token, "10016")
		}},
		{"claim: PUT", nil, req(http.MethodPut, claimPath, "{}")},

		// Moderation.
		{"delete", nil, deleteReq(asMod, "")},
		{"delete: .json", nil, func(t *testing.T, e *env) *http.Request {
			addAdmin(t, e)
			_, path := e.claimed("image/jpeg", img)
			id, _, _ := strings.Cut(strings.TrimPrefix(path, "/hc/user_images/"), ".")
			return asMod(e.request(http.MethodDelete, "/api/v2/guide/user_images/"+id+".json", nil))
		}},
		{"delete and block", nil, deleteReq(asMod, "?block=true&reason=spam")},
		{"delete: anonymous", nil, deleteReq(nil, "")},
		{"delete: not an admin, not the uploader", nil, deleteReq(asAnn, "")},
		{"delete: not an admin, blocking", nil, deleteReq(asAnn, "?block=true")},
		{"delete: its upload token", nil, deleteWithToken(true)},
		{"delete: another upload's token", nil, deleteWithToken(false)},
		{"delete: upload token over the credentials limit", cfg(limitedTo("auth")), func(t *testing.T, e *env) *http.Request {
			e.do(deleteWithToken(false)(t, e))
			return deleteWithToken(true)(t, e)
		}},
		{"delete: unknown image", nil, func(t *testing.T, e *env) *http.Request {
			addAdmin(t, e)
			return asMod(e.request(http.MethodDelete, "/api/v2/guide/user_images/AAAAAAAAAAAAAAAAAAAAAA", nil))
		}},
		{"delete: block not a boolean", nil, deleteReq(asMod, "?block=maybe")},
		{"delete: store down", nil, func(t *testing.T, e *env) *http.Request {
			r := deleteReq(asMod, "")(t, e)
			e.db.Close()
			return r
		}},
		{"delete: GET", nil, get("/api/v2/guide/user_images/AAAAAAAAAAAAAAAAAAAAAA")},
		{"report", nil, reportReq(`{"reason":"spam","detail":"watches"}`)},
		{"report: unknown reason", nil, reportReq(`{"reason":"boring"}`)},
		{"report: not JSON", nil, reportReq(`spam`)},
		{"report: unknown image", nil, req(http.MethodPost, "/api/v2/guide/user_images/AAAAAAAAAAAAAAAAAAAAAA/reports", `{"reason":"spam"}`)},
		{"report: over the limit", []func(*testing.T, *httpapi.Config){limitedTo("report")}, func(t *testing.T, e *env) *http.Request {
			e.do(reportReq(`{"reason":"spam"}`)(t, e))
			return reportReq(`{"reason":"spam"}`)(t, e)
		}},
		{"report: body too large", nil, reportReq(`{"reason":"spam","detail":"` + strings.Repeat("x", 70<<10) + `"}`)},
		{"report: wrong password", nil, func(t *testing.T, e *env) *http.Request {
			r := reportReq(`{"reason":"spam"}`)(t, e)
			r.SetBasicAuth("ann@example.com", "wrong horse")
			return r
		}},
		{"report: store down", nil, func(t *testing.T, e *env) *http.Request {
			r := reportReq(`{"reason":"spam"}`)(t, e)
			e.db.Close()
			return r
		}},
	}

	// Serving, by GET and HEAD.
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		image := func(header func(t *testing.T, e *env, path string) (string, string)) func(*testing.T, *env) *http.Request {
			return func(t *testing.T, e *env) *http.Request {
				_, path := e.claimed("image/jpeg", img)
				r := e.request(method, path, nil)
				if header != nil {
					k, v := header(t, e, path)
					r.Header.Set(k, v)
				}
				return r
			}
		}
		header := func(k, v string) func(*testing.T, *env, string) (string, string) {
			return func(*testing.T, *env, string) (string, string) { return k, v }
		}
		cases = append(cases, []docCase{
			{method + " image", nil, image(nil)},
			{method + " image: range", nil, image(header("Range", "bytes=0-9"))},
			{method + " image: range outside", nil, image(header("Range", "bytes="+strconv.Itoa(10*len(img))+"-"))},
			{method + " image: not modified", nil, image(func(t *testing.T, e *env, path string) (string, string) {
				return "If-None-Match", etagOf(t, e, path)
			})},
			{method + " image: If-Match fails", nil, image(header("If-Match", `"nope"`))},
			{method + " image: unknown", nil, req(method, "/hc/user_images/AAAAAAAAAAAAAAAAAAAAAA.jpeg", "")},
			{method + " image: store down", nil, func(t *testing.T, e *env) *http.Request {
				r := image(nil)(t, e)
				e.db.Close()
				return r
			}},
		}...)
	}
	variant := func(query string) func(*testing.T, *env) *http.Request {
		return func(t *testing.T, e *env) *http.Request {
			_, path := e.claimed("image/jpeg", img)
			return e.request(http.MethodGet, path+query, nil)
		}
	}
	cases = append(cases, []docCase{
		{"GET image: variant", nil, variant("?w=160&fm=webp")},
		{"GET image: variant, auto format", nil, func(t *testing.T, e *env) *http.Request {
			r := variant("?w=160&auto=format")(t, e)
			r.Header.Set("Accept", "image/webp,*/*")
			return r
		}},
		{"GET image: variant of a width not served", nil, variant("?w=161")},
		{"GET image: unknown query parameter", nil, variant("?v=2")},
		{"HEAD image: variant of a width not served", nil, func(t *testing.T, e *env) *http.Request {
			r := variant("?w=161")(t, e)
			r.Method = http.MethodHead
			return r
		}},
		{"HEAD image: variant", nil, func(t *testing.T, e *env) *http.Request {
			r := variant("?w=320")(t, e)
			r.Method = http.MethodHead
			return r
		}},
	}...)
	return append(cases, docCase{"image: POST", nil, func(t *testing.T, e *env) *http.Request {
		_, path := e.claimed("image/jpeg", img)
		return e.request(http.MethodPost, path, nil)
	}})
}

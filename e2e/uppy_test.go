package e2e

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// uppyPage is a page of a host app that uploads with Uppy, the open-source
// uploader, from the real browser bundle of the version under test
// (/uppy.min.js, which exposes the global Uppy), in one of three ways
// (CONFIG.mode), as README's Uppy section shows them:
//   - aws-s3-sign-request: Uppy 6's AwsS3 with signRequest, its only simple
//     upload; the PUT carries only Content-Type.
//   - aws-s3-upload-parameters: Uppy 5's AwsS3 with getUploadParameters,
//     which sends upload.headers and settles only once it reads the ETag.
//   - xhr-upload: XHRUpload PUTting the raw bytes with upload.headers set
//     on each request, its empty answer read by getResponseData.
//
// Step 1 runs when Uppy asks for the URL; step 3 on upload-success, after
// which the picture is shown in the post from the path the claim answers.
const uppyPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>New post</title><link rel="icon" href="data:,">
<script src="/uppy.min.js"></script></head>
<body>
<label>Pictures <input type="file" id="files" multiple accept="image/*"></label>
<div id="post"></div>
<ul id="uploads"></ul>
<script>
'use strict';
const CONFIG = /*CONFIG*/;
const {Uppy, AwsS3, XHRUpload} = window.Uppy;
const uppy = new Uppy();
const uploads = new Map(); // Uppy file id → step 1's upload
async function postJSON(path, data) {
  const res = await fetch(CONFIG.api + path, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(data)});
  const body = await res.json();
  if (body.errors && body.errors.length) throw new Error(body.errors[0].code + ': ' + body.errors[0].detail);
  return body;
}
// Step 1 for one file: its upload URL, token and headers.
async function createUpload(file) {
  const {upload} = await postJSON('/api/v2/guide/user_images/uploads', {content_type: file.type, file_size: file.size});
  uploads.set(file.id, upload);
  return upload;
}
// A URL whose signature is not the server's, for a refusal Uppy shows.
function tampered(url) {
  const u = new URL(url);
  const sig = u.searchParams.get('X-Amz-Signature');
  u.searchParams.set('X-Amz-Signature', (sig[0] === '0' ? '1' : '0') + sig.slice(1));
  return u.toString();
}
switch (CONFIG.mode) {
case 'aws-s3-sign-request':
  uppy.use(AwsS3, {
    shouldUseMultipart: false,
    generateObjectKey: (file) => file.id, // so signRequest finds the file
    async signRequest({key}) {
      const file = uppy.getFile(key);
      const upload = await createUpload(file);
      return {url: file.name.startsWith('tampered') ? tampered(upload.url) : upload.url};
    },
  });
  break;
case 'aws-s3-upload-parameters':
  uppy.use(AwsS3, {
    shouldUseMultipart: false,
    async getUploadParameters(file) {
      const upload = await createUpload(file);
      return {method: 'PUT', url: upload.url, headers: upload.headers};
    },
  });
  break;
case 'xhr-upload':
  uppy.use(XHRUpload, {
    method: 'PUT',
    formData: false,
    endpoint: async (file) => (await createUpload(file)).url,
    onBeforeRequest(xhr, retryCount, files) {
      for (const [name, value] of Object.entries(uploads.get(files[0].id).headers)) xhr.setRequestHeader(name, value);
    },
    getResponseData: () => ({}), // a 200 PUT has no body
  });
  break;
}
function item(name) {
  let li = [...document.querySelectorAll('#uploads li')].find(l => l.dataset.file === name);
  if (!li) {
    li = document.createElement('li');
    li.dataset.file = name;
    document.getElementById('uploads').append(li);
  }
  return li;
}
uppy.on('upload-success', async (file) => {
  const li = item(file.name);
  try {
    const {user_image} = await postJSON('/api/v2/guide/user_images', {token: uploads.get(file.id).token, brand_id: CONFIG.brand});
    const img = document.createElement('img');
    img.src = CONFIG.api + user_image.path;
    img.alt = file.name;
    document.getElementById('post').append(img);
    li.dataset.path = user_image.path;
    li.dataset.state = 'done';
    li.textContent = file.name;
  } catch (err) {
    li.dataset.state = 'failed';
    li.textContent = String(err.message || err);
  }
});
uppy.on('upload-error', (file, err) => {
  const li = item(file.name);
  li.dataset.state = 'failed';
  li.textContent = String(err.message || err);
});
document.getElementById('files').addEventListener('change', (ev) => {
  for (const f of ev.target.files) {
    item(f.name).dataset.state = 'uploading';
    uppy.addFile({name: f.name, type: f.type, data: f, source: 'Local'});
  }
  ev.target.value = '';
  uppy.upload();
});
// A PUT from this page whose signed Content-Disposition is not the one
// issued: the answer's status, X-Amz-Error-Code (read through CORS) and
// errors body.
window.putWrongHeader = async () => {
  const body = new Blob([new Uint8Array(16)], {type: 'image/jpeg'});
  const {upload} = await postJSON('/api/v2/guide/user_images/uploads', {content_type: 'image/jpeg', file_size: body.size});
  const headers = {...upload.headers, 'Content-Disposition': 'attachment; filename="other.jpeg"'};
  const res = await fetch(upload.url, {method: 'PUT', headers, body});
  return {status: res.status, s3Code: res.headers.get('X-Amz-Error-Code'), code: (await res.json()).errors[0].code};
};
</script>
</body></html>
`

// uppyBundle is the path of the browser bundle (dist/uppy.min.js) of an
// Uppy version, which scripts/test.sh installs from npm (pinned) and names
// in USERIMAGES_TEST_UPPY6 and USERIMAGES_TEST_UPPY5; without it t skips,
// or fails under CI.
func uppyBundle(t *testing.T, version string) string {
	t.Helper()
	env := map[string]string{"6.0.1": "USERIMAGES_TEST_UPPY6", "5.2.4": "USERIMAGES_TEST_UPPY5"}[version]
	path := os.Getenv(env)
	if path == "" {
		if os.Getenv("CI") == "" {
			t.Skipf("no Uppy %s: %s is not set (bash scripts/test.sh installs it)", version, env)
		}
		t.Fatalf("no Uppy %s in CI: %s is not set, which scripts/test.sh does", version, env)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Uppy %s: %v", version, err)
	}
	return path
}

// TestUppy uploads three pictures (JPEG, PNG, GIF) through the real Uppy
// bundles in Chromium, from a page on another loopback origin, to the
// embedded default (the server is the upload target): AwsS3 with
// signRequest (6.x), AwsS3 with getUploadParameters (5.x), and XHRUpload
// (both). Each picture is uploaded, claimed and shown; every 200 PUT
// answers the quoted MD5 of its bytes as ETag. A PUT with a wrong value
// for a signed header is still refused, with its S3 code readable by the
// page; Uppy 6 shows the S3 code of a refused URL.
func TestUppy(t *testing.T) {
	for _, tc := range []struct{ version, mode string }{
		{"6.0.1", "aws-s3-sign-request"},
		{"6.0.1", "xhr-upload"},
		{"5.2.4", "aws-s3-upload-parameters"},
		{"5.2.4", "xhr-upload"},
	} {
		t.Run(tc.version+" "+tc.mode, func(t *testing.T) {
			bundle := uppyBundle(t, tc.version)
			srv := startServer(t, t.TempDir(), "--max-file-size", fmt.Sprint(browserLimit))
			u := startUppy(t, bundle, tc.mode, srv.base)
			u.uploadThree(t)
			if tc.mode == "aws-s3-sign-request" {
				// Uppy 6 sent only Content-Type: the signed headers the
				// server fixed were left out, and accepted.
				for _, p := range u.puts() {
					if _, ok := p.header["content-disposition"]; ok {
						t.Errorf("Uppy 6 PUT %s sent Content-Disposition; want only Content-Type, as the issue observed", p.url)
					}
				}
			}
			u.checkNoPageErrors(t)

			got := evalAwait[struct {
				Status int    `json:"status"`
				S3Code string `json:"s3Code"`
				Code   string `json:"code"`
			}](t, u.ctx, `putWrongHeader()`)
			if got.Status != http.StatusForbidden || got.S3Code != "SignatureDoesNotMatch" || got.Code != "SignatureMismatch" {
				t.Errorf("PUT with a wrong Content-Disposition from the page: got %+v, want 403, X-Amz-Error-Code SignatureDoesNotMatch, code SignatureMismatch", got)
			}
			if tc.mode == "aws-s3-sign-request" {
				state := pickFile(t, u.ctx, u.dir, "tampered.jpg", encodeJPEG(t, newRand(t), 30, 20))
				if state.State != "failed" || !strings.Contains(state.Text, "SignatureDoesNotMatch") {
					t.Errorf("Uppy 6 upload to a URL with a wrong signature: got %s %q, want it failed naming SignatureDoesNotMatch", state.State, state.Text)
				}
			}
		})
	}
}

// TestUppyScaleOut: Uppy 6's AwsS3 with signRequest uploads straight to
// the bucket of a scale-out deployment whose upload URLs do not sign the
// fixed headers (s3://…&sign_fixed_headers=false), as DEPLOYMENT.md sets
// it up; each picture is claimed and shown, each PUT answered with the
// store's ETag.
func TestUppyScaleOut(t *testing.T) {
	bundle := uppyBundle(t, "6.0.1")
	d := newScaleOut(t)
	d.blob += "&sign_fixed_headers=false"
	srv := d.start(t, "--max-file-size", fmt.Sprint(browserLimit))
	bucket, _, _ := strings.Cut(strings.TrimPrefix(d.blob, "s3://"), "?")
	u := startUppy(t, bundle, "aws-s3-sign-request", srv.base)
	d.s3.AllowBrowsers(t, bucket, u.origin)
	u.uploadThree(t)
	for _, p := range u.puts() {
		if !strings.HasPrefix(p.url, d.s3.Endpoint+"/") {
			t.Errorf("PUT %s: want it to the bucket at %s", p.url, d.s3.Endpoint)
		}
	}
	u.checkNoPageErrors(t)
}

// uppyRun is uppyPage open in Chromium, with what the page sent and
// received.
type uppyRun struct {
	ctx    context.Context
	dir    string
	origin string // the page's
	api    string // userimages'

	mu         sync.Mutex
	requests   map[network.RequestID]pageRequest
	responses  []uppyResponse
	pageErrors []string
}

// uppyResponse is the answer to one PUT.
type uppyResponse struct {
	pageRequest
	status int64
	etag   string
}

// startUppy serves uppyPage and the bundle from a second loopback origin
// and opens it in Chromium, with mode and userimages at api.
func startUppy(t *testing.T, bundle, mode, api string) *uppyRun {
	t.Helper()
	cfg, _ := json.Marshal(map[string]string{"api": api, "mode": mode, "brand": brandID})
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, strings.Replace(uppyPage, "/*CONFIG*/", string(cfg), 1))
		case "/uppy.min.js":
			http.ServeFile(w, r, bundle)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(page.Close)
	if origin(page.URL) == origin(api) {
		t.Fatalf("page and userimages both on %s: want two origins", page.URL)
	}
	u := &uppyRun{dir: t.TempDir(), origin: page.URL, api: api, requests: map[network.RequestID]pageRequest{}}
	u.ctx = newBrowser(t, u.dir)
	if err := chromedp.Listen(u.ctx, u.listen); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			u.mu.Lock()
			defer u.mu.Unlock()
			var lines []string
			for _, r := range u.responses {
				lines = append(lines, fmt.Sprintf("%s %s %v → %d ETag %s", r.method, r.url, r.header, r.status, r.etag))
			}
			t.Logf("PUTs the page made:\n%s\npage errors:\n%s", strings.Join(lines, "\n"), strings.Join(u.pageErrors, "\n"))
		}
	})
	inBrowser(t, u.ctx, "open the Uppy page", chromedp.Navigate(page.URL+"/"))
	inBrowser(t, u.ctx, "wait for Uppy", pollJS[bool](`typeof window.Uppy === 'object' && typeof window.putWrongHeader === 'function'`))
	return u
}

func (u *uppyRun) listen(ev any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		h := map[string]string{}
		for k, v := range ev.Request.Headers {
			h[strings.ToLower(k)] = fmt.Sprint(v)
		}
		u.requests[ev.RequestID] = pageRequest{ev.Request.Method, ev.Request.URL, h}
	case *network.EventResponseReceived:
		req, ok := u.requests[ev.RequestID]
		if !ok || req.method != http.MethodPut {
			return
		}
		r := uppyResponse{pageRequest: req, status: ev.Response.Status}
		for k, v := range ev.Response.Headers {
			if strings.EqualFold(k, "ETag") {
				r.etag = fmt.Sprint(v)
			}
		}
		u.responses = append(u.responses, r)
	default:
		if msg, ok := pageError(ev); ok {
			u.pageErrors = append(u.pageErrors, msg)
		}
	}
}

// puts returns the PUTs answered so far.
func (u *uppyRun) puts() []uppyResponse {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.responses)
}

func (u *uppyRun) checkNoPageErrors(t *testing.T) {
	t.Helper()
	reportPageErrors(t, &u.mu, &u.pageErrors)
}

// uploadThree picks a JPEG, a PNG and a GIF at once and checks that each
// was uploaded, claimed and is shown from userimages, and that each PUT
// was answered 200 with the quoted MD5 of the file as ETag.
func (u *uppyRun) uploadThree(t *testing.T) {
	t.Helper()
	rng := newRand(t)
	files := []themeFile{
		{"photo.jpg", "image/jpeg", encodeJPEG(t, rng, 64, 48)},
		{"chart.png", "image/png", encodePNG(t, rng, 40, 30)},
		{"anim.gif", "image/gif", encodeGIF(t, rng, 24, 16)},
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, clientFile(t, u.dir, f.name, f.data))
	}
	inBrowser(t, u.ctx, "pick the pictures", chromedp.SetUploadFiles(chromedp.CSS("#files"), paths))
	type state struct {
		File  string `json:"file"`
		State string `json:"state"`
		Text  string `json:"text"`
		Path  string `json:"path"`
	}
	states := inBrowser(t, u.ctx, "wait for the uploads to settle", pollJS[[]state](`(() => {
		const items = [...document.querySelectorAll('#uploads li')].map(l => ({file: l.dataset.file, state: l.dataset.state, text: l.textContent, path: l.dataset.path || ''}));
		return items.length === 3 && items.every(i => i.state !== 'uploading') && items;
	})()`))
	for _, s := range states {
		if s.State != "done" {
			t.Fatalf("upload of %s: %s %q", s.File, s.State, s.Text)
		}
	}
	for _, f := range files {
		shown := inBrowser(t, u.ctx, "wait for "+f.name+" to render", pollJS[struct {
			Src   string `json:"src"`
			Width int    `json:"width"`
		}](fmt.Sprintf(`(() => {
			const img = [...document.querySelectorAll('#post img')].find(i => i.alt === %q);
			return img && img.complete && {src: img.src, width: img.naturalWidth};
		})()`, f.name)))
		if shown.Width == 0 || !strings.HasPrefix(shown.Src, u.api+"/hc/user_images/") || !strings.HasSuffix(shown.Src, "."+extOf(f.contentType)) {
			t.Errorf("%s: shown as <img src=%q> %d px wide, want a %s from %s/hc/user_images/, rendered", f.name, shown.Src, shown.Width, f.contentType, u.api)
		}
	}
	var want, got []string
	for _, f := range files {
		sum := md5.Sum(f.data)
		want = append(want, `"`+hex.EncodeToString(sum[:])+`"`)
	}
	for _, p := range u.puts() {
		if p.status != http.StatusOK || p.etag == "" {
			t.Errorf("PUT %s: got %d with ETag %q, want 200 with one", p.url, p.status, p.etag)
		}
		got = append(got, p.etag)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("ETags of the PUTs: got %q, want the quoted MD5s of the three files %q", got, want)
	}
}

// evalAwait evaluates expr in the page, awaiting the promise it returns.
func evalAwait[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return inBrowser(t, ctx, "evaluate "+expr, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

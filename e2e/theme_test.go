package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// themePage is a help-center page whose upload code does what Zendesk's
// help-center theme's CKEditor upload adapter does, in its order and with
// its headers and bodies, as observed in a browser (issue 11; the README's
// section on Zendesk's theme). The theme's own bundle is not used: its
// licence allows its editor code only within Zendesk help centers. It calls host-relative URLs; %s is an optional <base>
// element, which points them (and the inserted image paths) at another
// origin when the page is not mounted on userimages' own.
const themePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>New post</title><link rel="icon" href="data:,">%s</head>
<body>
<label>Insert image <input type="file" id="files" accept="image/*"></label>
<div id="editor" contenteditable="true" aria-label="Post body"></div>
<ul id="uploads"></ul>
<script>
'use strict';
const BRAND_ID = '10016';
// The theme never looks at HTTP statuses: a body with a non-empty errors
// key is failure.
async function postJSON(path, csrf, data) {
  const res = await fetch(path, {
    method: 'POST', credentials: 'same-origin',
    headers: {'Content-Type': 'text/plain;charset=UTF-8', 'X-CSRF-Token': csrf},
    body: JSON.stringify(data),
  });
  const body = await res.json();
  if (body.errors && body.errors.length) throw body;
  return body;
}
async function upload(file) {
  // First who the user is: the adapter needs user.authenticity_token.
  const me = await (await fetch('/api/v2/users/me.json', {credentials: 'same-origin'})).json();
  const csrf = me.user.authenticity_token;
  window.csrfTokens = (window.csrfTokens || []).concat([csrf]);
  const {upload} = await postJSON('/api/v2/guide/user_images/uploads', csrf, {content_type: file.type, file_size: file.size});
  // Exactly the returned headers, nothing else.
  await fetch(upload.url, {method: 'PUT', headers: upload.headers, body: file});
  const {user_image} = await postJSON('/api/v2/guide/user_images', csrf, {token: upload.token, brand_id: BRAND_ID});
  return user_image.path;
}
document.getElementById('files').addEventListener('change', async (ev) => {
  for (const file of ev.target.files) {
    const li = document.createElement('li');
    li.dataset.file = file.name;
    li.dataset.state = 'uploading';
    document.getElementById('uploads').append(li);
    try {
      const path = await upload(file);
      const img = document.createElement('img');
      img.src = path;
      img.alt = file.name;
      document.getElementById('editor').append(img);
      li.dataset.state = 'done';
      li.textContent = file.name;
    } catch (err) {
      li.dataset.state = 'failed';
      li.textContent = err.errors ? JSON.stringify({errors: err.errors}) : 'Upload failed: ' + err;
    }
  }
});
</script>
</body></html>
`

// pageRequest is one request the page made, as Chromium reports it.
type pageRequest struct {
	method, url string
	header      map[string]string // names lower case
}

// themeFiles are the pictures the theme test uploads: one of each type the
// theme allows.
type themeFile struct {
	name, contentType string
	data              []byte
}

// TestZendeskThemeCrossOrigin runs the theme's upload steps from a page on
// one loopback origin against userimages on another, with any origin
// allowed and with the page's origin listed (where cached images must say
// Vary: Origin for a later CORS read to work).
func TestZendeskThemeCrossOrigin(t *testing.T) {
	for _, listed := range []bool{false, true} {
		name := map[bool]string{false: "any origin", true: "listed origin"}[listed]
		t.Run(name, func(t *testing.T) {
			// The page's server listens first: its origin is what
			// --cors-origin lists. It serves once userimages' address,
			// which the page's <base> names, is known.
			var base string
			page := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				fmt.Fprintf(w, themePage, `<base href="`+base+`/">`)
			}))
			t.Cleanup(page.Close)
			pageOrigin := "http://" + page.Listener.Addr().String()
			args := []string{"--max-file-size", fmt.Sprint(browserLimit)}
			if listed {
				args = append(args, "--cors-origin", pageOrigin)
			}
			srv := startServer(t, t.TempDir(), args...)
			base = srv.base
			page.Start()
			if page.URL != pageOrigin || origin(page.URL) == origin(srv.base) {
				t.Fatalf("page on %s, userimages on %s: want two origins", page.URL, srv.base)
			}
			runTheme(t, page.URL+"/", srv.base)
		})
	}
}

// runTheme opens pageURL, uploads a JPEG, a PNG and a GIF through the
// page's file input, checks each request the page made and that each
// picture renders and can be read with a CORS fetch, then uploads a file
// over the size limit and checks the page shows the server's errors body.
// apiBase is where the page should find userimages (a server started with
// --max-file-size browserLimit).
func runTheme(t *testing.T, pageURL, apiBase string) {
	t.Helper()
	dir := t.TempDir()
	rng := newRand(t)
	files := []themeFile{
		{"photo.jpg", "image/jpeg", encodeJPEG(t, rng, 64, 48)},
		{"chart.png", "image/png", encodePNG(t, rng, 40, 30)},
		{"anim.gif", "image/gif", encodeGIF(t, rng, 24, 16)},
	}
	big := padJPEG(files[0].data, browserLimit+1000, rngBytes(rng))

	bctx := newBrowser(t, dir)
	var mu sync.Mutex
	var requests []pageRequest
	var pageErrors []string
	if err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			h := map[string]string{}
			for k, v := range ev.Request.Headers {
				h[strings.ToLower(k)] = fmt.Sprint(v)
			}
			requests = append(requests, pageRequest{ev.Request.Method, ev.Request.URL, h})
		default:
			// The oversized file's 422 is expected; any other error is not.
			if msg, ok := pageError(ev); ok {
				pageErrors = append(pageErrors, msg)
			}
		}
	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if t.Failed() {
			var lines []string
			for _, r := range requests {
				lines = append(lines, fmt.Sprintf("%s %s %v", r.method, r.url, r.header))
			}
			t.Logf("requests the page made:\n%s", strings.Join(lines, "\n"))
		}
	})
	inBrowser(t, bctx, "open the page", chromedp.Navigate(pageURL))

	apiOrigin := origin(apiBase)
	for i, f := range files {
		mu.Lock()
		before := len(requests)
		mu.Unlock()
		state := pickFile(t, bctx, dir, f.name, f.data)
		if state.State != "done" {
			t.Fatalf("upload of %s: %s", f.name, state.Text)
		}
		// The picture renders, from the path the page inserted as is.
		shown := inBrowser(t, bctx, "wait for "+f.name+" to render", pollJS[struct {
			Src    string `json:"src"`
			Abs    string `json:"abs"`
			Width  int    `json:"width"`
			Broken bool   `json:"broken"`
		}](fmt.Sprintf(`(() => {
			const img = [...document.querySelectorAll('#editor img')].find(i => i.alt === %q);
			if (!img || !img.complete) return false;
			return {src: img.getAttribute('src'), abs: img.src, width: img.naturalWidth, broken: img.naturalWidth === 0};
		})()`, f.name)))
		if shown.Broken || !regexp.MustCompile(`^/hc/user_images/[A-Za-z0-9_-]{22}\.`+extOf(f.contentType)+`$`).MatchString(shown.Src) {
			t.Fatalf("%s: got <img src=%q> with naturalWidth %d, want the relative path of a %s, rendered", f.name, shown.Src, shown.Width, f.contentType)
		}
		if origin(shown.Abs) != apiOrigin {
			t.Errorf("%s: the image loaded from %s, want userimages' origin %s", f.name, shown.Abs, apiOrigin)
		}
		// Chromium reports the image's request asynchronously; wait for it.
		var made []pageRequest
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			made = slices.Clone(requests[before:])
			mu.Unlock()
			if slices.ContainsFunc(made, func(r pageRequest) bool { return r.url == shown.Abs }) || time.Now().After(deadline) {
				break
			}
		}
		checkThemeRequests(t, f, made, apiOrigin, evalJS[[]string](t, bctx, `window.csrfTokens`)[i])
		// A CORS read of the shown (and cached) picture works.
		n := inBrowser(t, bctx, "CORS fetch of "+f.name, chromedp.Evaluate[int](fmt.Sprintf(
			`fetch(%q, {mode: 'cors'}).then(r => r.ok ? r.blob() : Promise.reject(r.status)).then(b => b.size)`, shown.Abs), chromedp.EvalAwaitPromise))
		served, err := fetch(http.DefaultClient, apiBase, shown.Src)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(served) {
			t.Errorf("%s: the CORS fetch read %d bytes, want the %d served", f.name, n, len(served))
		}
	}

	state := pickFile(t, bctx, dir, "huge.jpg", big)
	if state.State != "failed" {
		t.Fatalf("upload of a file over the limit: got state %s (%s), want failed", state.State, state.Text)
	}
	// What the page shows is the server's errors document for the same
	// request.
	res, body, err := do(http.DefaultClient, http.MethodPost, apiBase+"/api/v2/guide/user_images/uploads", "",
		map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, fmt.Appendf(nil, `{"content_type":"image/jpeg","file_size":%d}`, len(big)))
	if err != nil || res.StatusCode != http.StatusUnprocessableEntity || errorCode(body) != "FileTooLarge" {
		t.Fatalf("the same step 1 from Go: got %v %s, want 422 FileTooLarge", err, body)
	}
	if want := string(bytes.TrimSpace(body)); state.Text != want {
		t.Errorf("the page shows %q, want the server's errors body %q", state.Text, want)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(pageErrors) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(pageErrors, "\n"))
	}
}

// pickFile chooses one file through the page's file input, as a user does
// from the editor's toolbar, and waits for the page to finish with it.
func pickFile(t *testing.T, bctx context.Context, dir, name string, data []byte) (state struct {
	State string `json:"state"`
	Text  string `json:"text"`
}) {
	t.Helper()
	inBrowser(t, bctx, "pick "+name, chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{clientFile(t, dir, name, data)}))
	return inBrowser(t, bctx, "wait for "+name, pollJS[struct {
		State string `json:"state"`
		Text  string `json:"text"`
	}](fmt.Sprintf(`(() => {
		const li = [...document.querySelectorAll('#uploads li')].find(l => l.dataset.file === %q);
		return li && li.dataset.state !== 'uploading' && {state: li.dataset.state, text: li.textContent};
	})()`, name)))
}

// checkThemeRequests checks the requests one upload made (CORS preflights
// aside, which the browser makes in its own order): users/me.json, then
// the two POSTs with the token from it as X-CSRF-Token and their JSON as
// text/plain, the PUT in between with exactly the upload headers, and the
// image, all on userimages' origin.
func checkThemeRequests(t *testing.T, f themeFile, made []pageRequest, apiOrigin, csrf string) {
	t.Helper()
	var got []string
	for _, r := range made {
		if r.method == http.MethodOptions {
			continue
		}
		u, err := url.Parse(r.url)
		if err != nil {
			t.Fatal(err)
		}
		if origin(r.url) != apiOrigin {
			t.Errorf("%s: %s %s: want it on userimages' origin %s", f.name, r.method, r.url, apiOrigin)
		}
		got = append(got, r.method+" "+regexp.MustCompile(`/[A-Z0-9]{26}$|/[A-Za-z0-9_-]{22}\.\w+$`).ReplaceAllString(u.Path, "/…"))
		switch {
		case r.method == http.MethodPost:
			if ct := r.header["content-type"]; ct != "text/plain;charset=UTF-8" {
				t.Errorf("%s: POST %s: Content-Type %q, want text/plain;charset=UTF-8", f.name, u.Path, ct)
			}
			if tok := r.header["x-csrf-token"]; tok == "" || tok != csrf {
				t.Errorf("%s: POST %s: X-CSRF-Token %q, want users/me's authenticity_token %q", f.name, u.Path, tok, csrf)
			}
		case r.method == http.MethodPut:
			token := u.Path[strings.LastIndexByte(u.Path, '/')+1:]
			want := map[string]string{
				"content-disposition":          fmt.Sprintf(`attachment; filename="%s.%s"`, token, extOf(f.contentType)),
				"content-type":                 f.contentType,
				"x-amz-server-side-encryption": "AES256",
			}
			for k, v := range want {
				if r.header[k] != v {
					t.Errorf("%s: PUT: %s: got %q, want %q", f.name, k, r.header[k], v)
				}
			}
			if _, ok := r.header["x-csrf-token"]; ok {
				t.Errorf("%s: PUT: sent X-CSRF-Token, which is not among upload.headers", f.name)
			}
		}
	}
	want := []string{"GET /api/v2/users/me.json", "POST /api/v2/guide/user_images/uploads", "PUT /uploads/…",
		"POST /api/v2/guide/user_images", "GET /hc/user_images/…"}
	if !slices.Equal(got, want) {
		t.Errorf("%s: the page made %q, want %q", f.name, got, want)
	}
}

// extOf is the extension of a type's paths.
func extOf(contentType string) string {
	return strings.TrimPrefix(contentType, "image/")
}

// origin is the scheme://host:port of a URL.
func origin(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

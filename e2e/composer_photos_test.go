package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"userimages/internal/testkit/testphoto"
)

// composerLimit is the --max-file-size of the composer tests' servers:
// the API's default, which phone photos are over.
const composerLimit = 2_000_000

// composerPage is a composer open in headless Chromium on the real binary,
// with the helpers its tests drive it with.
type composerPage struct {
	t    *testing.T
	srv  *server
	ctx  context.Context
	dir  string
	mu   sync.Mutex
	reqs []string
	errs []string
}

// openComposer starts the binary with args and opens its composer.
func openComposer(t *testing.T, args ...string) *composerPage {
	t.Helper()
	return openComposerEnv(t, nil, args...)
}

// openComposerEnv is openComposer with env added to the server's
// environment.
func openComposerEnv(t *testing.T, env []string, args ...string) *composerPage {
	t.Helper()
	p := &composerPage{t: t, srv: startServerEnv(t, t.TempDir(), env, args...), dir: t.TempDir()}
	p.ctx = newBrowser(t, p.dir)
	if err := chromedp.Listen(p.ctx, func(ev any) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			p.reqs = append(p.reqs, e.Request.Method+" "+e.Request.URL)
			return
		}
		if msg, ok := pageError(ev); ok {
			p.errs = append(p.errs, msg)
		}
	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if t.Failed() {
			t.Logf("requests the page made:\n%s", strings.Join(p.reqs, "\n"))
		}
	})
	inBrowser(t, p.ctx, "open the composer", chromedp.Navigate(p.srv.base+"/composer/"))
	inBrowser(t, p.ctx, "wait for the settings", pollJS[bool](`!document.getElementById('drop').disabled`))
	return p
}

// file writes data as the file name for the browser to pick.
func (p *composerPage) file(name string, data []byte) string {
	return clientFile(p.t, p.dir, name, data)
}

func (p *composerPage) pick(path string) {
	p.t.Helper()
	inBrowser(p.t, p.ctx, "pick "+path, chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{path}))
}

func itemJS(name string) string {
	return fmt.Sprintf(`document.querySelector('#uploads li[data-file=%q]')`, name)
}

// settled waits up to a minute (a photo is resized on a busy machine)
// for the upload of name to be done or failed, and returns which and its
// status line.
func (p *composerPage) settled(name string) (class, state string) {
	p.t.Helper()
	got := inBrowser(p.t, p.ctx, "wait for "+name, chromedp.Poll[[]string](fmt.Sprintf(`(() => {
		const li = %s;
		if (!li) return false;
		const state = li.querySelector('.upload-state').textContent;
		for (const c of ['done', 'failed']) if (li.classList.contains(c)) return [c, state];
		return false;
	})()`, itemJS(name)), chromedp.WithPollingTimeout(time.Minute), chromedp.WithPollingInterval(50*time.Millisecond)))
	return got[0], got[1]
}

func (p *composerPage) buttons(name string) []string {
	p.t.Helper()
	return evalJS[[]string](p.t, p.ctx, fmt.Sprintf(`[...%s.querySelectorAll('button')].map(b => b.textContent)`, itemJS(name)))
}

func (p *composerPage) body() string {
	p.t.Helper()
	return evalJS[string](p.t, p.ctx, `document.getElementById('body').value`)
}

func (p *composerPage) pathOf(name string) string {
	p.t.Helper()
	return evalJS[string](p.t, p.ctx, itemJS(name)+`.dataset.path`)
}

// uploads is how many create, PUT and claim requests the page made.
func (p *composerPage) uploads() (n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.reqs {
		if strings.HasPrefix(r, "POST ") || strings.HasPrefix(r, "PUT ") {
			n++
		}
	}
	return n
}

// thumbnails describes the thumbnail of name: "none" when it has no
// picture, "broken" when its picture did not load, "shown" when it did.
func (p *composerPage) thumbnail(name string) string {
	p.t.Helper()
	return evalJS[string](p.t, p.ctx, fmt.Sprintf(`(() => {
		const img = %s.querySelector('img');
		if (!img) return 'none';
		return img.complete && img.naturalWidth > 0 ? 'shown' : 'broken';
	})()`, itemJS(name)))
}

// imgAttr is attribute attr of the <img> of path in the body.
func (p *composerPage) imgAttr(path, attr string) string {
	p.t.Helper()
	return evalJS[string](p.t, p.ctx, fmt.Sprintf(`new DOMParser().parseFromString(document.getElementById('body').value, 'text/html').querySelector('img[src=%q]').getAttribute(%q)`, path, attr))
}

func (p *composerPage) reportErrors() {
	p.t.Helper()
	reportPageErrors(p.t, &p.mu, &p.errs)
}

// sizeText is how the page writes n bytes: in MB, to 0.1, rounded down
// (rounded up for a file over a limit, so as not to read as the limit).
func sizeText(n int, up bool) string {
	round := math.Floor
	if up {
		round = math.Ceil
	}
	return fmt.Sprintf("%g MB", round(float64(n)/1e5)/10)
}

// animatedGIF is a two-frame GIF of w×h noise, which no encoder can
// shrink: over 2 MB at 1000×1000.
func animatedGIF(t *testing.T, rng *rand.ChaCha8, w, h int) []byte {
	t.Helper()
	anim := &gif.GIF{}
	for range 2 {
		m := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
		rng.Read(m.Pix)
		anim.Image = append(anim.Image, m)
		anim.Delay = append(anim.Delay, 50)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, anim); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// noisePNG is a w×h PNG of noise, which no encoder can shrink: w×h×4
// bytes and a little more. animated makes it an APNG (an acTL and an fcTL
// chunk before its pixels: one frame, looping), which browsers play.
func noisePNG(t *testing.T, rng *rand.ChaCha8, w, h int, animated bool) []byte {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	rng.Read(m.Pix)
	for i := 3; i < len(m.Pix); i += 4 {
		m.Pix[i] = 255
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	if !animated {
		return b.Bytes()
	}
	chunk := func(typ string, data []byte) []byte {
		c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		c = append(append(c, typ...), data...)
		return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	}
	actl := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 1), 0) // 1 frame, looping
	fctl := binary.BigEndian.AppendUint32(nil, 0)                                   // sequence number
	for _, v := range []uint32{uint32(w), uint32(h), 0, 0} {
		fctl = binary.BigEndian.AppendUint32(fctl, v)
	}
	fctl = append(fctl, 0, 1, 0, 10, 0, 0) // 1/10 s; no disposal, no blending
	const ihdrEnd = 8 + 25                 // the signature and IHDR
	out := append([]byte{}, b.Bytes()[:ihdrEnd]...)
	out = append(append(out, chunk("acTL", actl)...), chunk("fcTL", fctl)...)
	return append(out, b.Bytes()[ihdrEnd:]...)
}

// heicHead is the start of an iPhone's HEIC photo: its ftyp box.
var heicHead = append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), make([]byte, 600)...)

// TestComposerPhotos: what the composer does with the files people pick
// from a phone or a desktop, in Chromium against the real binary. A 4000×3000
// phone photo with EXIF orientation 6, over the size limit, is drawn
// upright at 2560 px and encoded again until it fits, and the status line
// says from what size to what; a PNG over the limit becomes a WebP; an
// animated GIF or PNG over the limit is refused with its size (redrawing
// it would stop it); a HEIC photo gets the formats
// that work; a file named .jpg that is no JPEG says what its bytes are,
// with no broken thumbnail; sizes comes from data-sizes, or fits a post
// column. Screenshots at 1280 and 375 px, axe-core clean.
func TestComposerPhotos(t *testing.T) {
	page := openComposer(t, "--max-file-size", fmt.Sprint(composerLimit))
	rng := newRand(t)

	t.Run("a phone photo is made upright and smaller", func(t *testing.T) {
		// Stored 4000×3000 with red top left; a viewer turns it 90°
		// clockwise: 3000×4000, red top right.
		photo := testphoto.JPEG(4000, 3000, rng.Uint64(), 6)
		if len(photo) <= composerLimit {
			t.Fatalf("the test photo is %d bytes, want it over the %d limit", len(photo), composerLimit)
		}
		page.pick(page.file("IMG_4032.jpg", photo))
		class, state := page.settled("IMG_4032.jpg")
		if want := regexp.MustCompile(`^Added to the body, resized from ` + regexp.QuoteMeta(sizeText(len(photo), false)) + ` to [0-9.]+ (MB|KB)$`); class != "done" || !want.MatchString(state) {
			t.Fatalf("IMG_4032.jpg: got %s %q, want done and %s", class, state, want)
		}
		t.Logf("%d bytes: %s", len(photo), state)
		path := page.pathOf("IMG_4032.jpg")
		served, err := fetch(http.DefaultClient, page.srv.base, path)
		if err != nil {
			t.Fatal(err)
		}
		if len(served) > composerLimit {
			t.Errorf("served %s: %d bytes, want at most %d", path, len(served), composerLimit)
		}
		// The status line's new size is what arrived.
		if to := state[strings.LastIndex(state, " to ")+4:]; to != sizeText(len(served), false) && !strings.HasSuffix(to, "KB") {
			t.Errorf("status says %s, the server has %d bytes (%s)", to, len(served), sizeText(len(served), false))
		}
		m, err := jpeg.Decode(bytes.NewReader(served))
		if err != nil {
			t.Fatalf("served %s: %v", path, err)
		}
		if got := m.Bounds().Size(); got != image.Pt(1920, 2560) {
			t.Errorf("served %s: got %v, want 1920x2560 (upright, 2560 px long)", path, got)
		}
		// Go's decoder ignores EXIF: these are the pixels as they are.
		if !redAt(m, 1900, 20) || redAt(m, 20, 20) {
			t.Errorf("served %s: the red quarter is not top right: the photo was not turned upright", path)
		}
		// A post column's sizes, and the server's narrower copies.
		if got, want := page.imgAttr(path, "sizes"), "(max-width: 720px) 100vw, 720px"; got != want {
			t.Errorf("sizes: got %q, want %q", got, want)
		}
		if got := page.imgAttr(path, "srcset"); !strings.HasSuffix(got, "&auto=format 1280w, "+path+" 1920w") {
			t.Errorf("srcset: got %q, want the copies up to 1280 w and the picture at 1920 w", got)
		}
		if got := page.thumbnail("IMG_4032.jpg"); got != "shown" {
			t.Errorf("thumbnail: got %s, want shown", got)
		}
	})

	t.Run("data-sizes", func(t *testing.T) {
		evalJS[bool](t, page.ctx, `(() => { document.getElementById('composer').dataset.sizes = '(min-width: 60rem) 40vw, 100vw'; return true; })()`)
		defer evalJS[bool](t, page.ctx, `(() => { delete document.getElementById('composer').dataset.sizes; return true; })()`)
		page.pick(page.file("wide.jpg", encodeJPEG(t, rng, 700, 300)))
		if class, state := page.settled("wide.jpg"); class != "done" || state != "Added to the body" {
			t.Fatalf("wide.jpg: got %s %q, want done, not resized", class, state)
		}
		if got, want := page.imgAttr(page.pathOf("wide.jpg"), "sizes"), "(min-width: 60rem) 40vw, 100vw"; got != want {
			t.Errorf("sizes: got %q, want data-sizes, %q", got, want)
		}
	})

	t.Run("a PNG over the limit is made smaller, as WebP", func(t *testing.T) {
		shot := noisePNG(t, rngBytes(rng), 1000, 800, false)
		if len(shot) <= composerLimit {
			t.Fatalf("the test PNG is %d bytes, want it over the %d limit", len(shot), composerLimit)
		}
		page.pick(page.file("screenshot.png", shot))
		class, state := page.settled("screenshot.png")
		if want := regexp.MustCompile(`^Added to the body, resized from ` + regexp.QuoteMeta(sizeText(len(shot), false)) + ` to [0-9.]+ (MB|KB)$`); class != "done" || !want.MatchString(state) {
			t.Fatalf("screenshot.png: got %s %q, want done and %s", class, state, want)
		}
		t.Logf("%d bytes: %s", len(shot), state)
		path := page.pathOf("screenshot.png")
		served, err := fetch(http.DefaultClient, page.srv.base, path)
		if err != nil {
			t.Fatal(err)
		}
		// WebP keeps a PNG's transparency, as JPEG would not.
		if !strings.HasSuffix(path, ".webp") || len(served) > composerLimit || string(served[8:12]) != "WEBP" {
			t.Errorf("served %s: %d bytes starting %q, want a WebP of at most %d", path, len(served), served[:12], composerLimit)
		}
	})

	anim := animatedGIF(t, rngBytes(rng), 1000, 1000)
	if len(anim) <= composerLimit {
		t.Fatalf("the animated GIF is %d bytes, want it over the %d limit", len(anim), composerLimit)
	}
	apng := noisePNG(t, rngBytes(rng), 1000, 800, true)
	pdf := append([]byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"), make([]byte, 300)...)
	noise := make([]byte, 5000)
	rngBytes(rng).Read(noise)
	noise[0] = 0xFF // not a JPEG's FF D8 FF
	noise[1] = 0x00
	const formats = " Pictures must be JPEG, PNG, GIF or WebP."
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"party.gif", anim, "party.gif is " + sizeText(len(anim), true) + "; pictures must be 2 MB or smaller."},
		{"loop.png", apng, "loop.png is " + sizeText(len(apng), true) + "; pictures must be 2 MB or smaller."},
		{"IMG_4033.heic", heicHead, "IMG_4033.heic is a HEIC photo, which most browsers cannot show." + formats + " Save or export the photo as JPEG, and pick that."},
		{"fake.jpg", pdf, "fake.jpg is a PDF document, not a picture." + formats},
		{"noise.jpg", noise, "noise.jpg is not a picture: its bytes match no image format (a damaged or renamed file?)." + formats},
	} {
		t.Run("refused "+tc.name, func(t *testing.T) {
			before := page.uploads()
			page.pick(page.file(tc.name, tc.data))
			if class, state := page.settled(tc.name); class != "failed" || state != tc.want {
				t.Errorf("%s: got %s %q, want failed %q", tc.name, class, state, tc.want)
			}
			if got := page.buttons(tc.name); !slices.Equal(got, []string{"Remove"}) {
				t.Errorf("buttons: got %q, want Remove only", got)
			}
			if got := page.thumbnail(tc.name); got != "none" {
				t.Errorf("thumbnail: got %s, want none (no broken picture)", got)
			}
			if n := page.uploads() - before; n != 0 {
				t.Errorf("the page made %d upload requests for %s, want none", n, tc.name)
			}
			if b := page.body(); strings.Contains(b, tc.name) {
				t.Errorf("body: got %q, want no placeholder of %s", b, tc.name)
			}
		})
	}

	checkAccessible(t, page.ctx, "the composer after photos and refusals")
	saveScreenshots(t, page.ctx, "composer-photos")
	page.reportErrors()
}

// TestComposerPreviewAndRetry: the preview is changed in place, so that
// a reader's Report form being filled in survives edits of the title and
// the body and its picture is not loaded again; a picture whose bytes were
// taken down (BlockedContent) is refused with no Retry, since trying again
// cannot help.
func TestComposerPreviewAndRetry(t *testing.T) {
	page := openComposer(t, "--max-file-size", fmt.Sprint(composerLimit))
	rng := newRand(t)

	t.Run("a Report form survives edits", func(t *testing.T) {
		page.pick(page.file("view.jpg", encodeJPEG(t, rng, 400, 300)))
		if class, state := page.settled("view.jpg"); class != "done" {
			t.Fatalf("view.jpg: got %s %q, want done", class, state)
		}
		inBrowser(t, page.ctx, "wait for the picture", pollJS[bool](`(() => { const i = document.querySelector('#preview-body img'); return !!i && i.complete && i.naturalWidth > 0; })()`))
		// Mark the picture's element: a preview built again would lose it.
		evalJS[bool](t, page.ctx, `(() => { window.shownPicture = document.querySelector('#preview-body img'); return true; })()`)
		inBrowser(t, page.ctx, "open the Report form", chromedp.Click(chromedp.CSS(`#preview-body details.report summary`)))
		const detail = "This is my photo, posted without my consent"
		inBrowser(t, page.ctx, "write the report", chromedp.SendKeys(chromedp.CSS(`#preview-body details.report textarea`), detail))
		inBrowser(t, page.ctx, "edit the title", chromedp.SendKeys(chromedp.CSS("#title"), "Our new office"))
		inBrowser(t, page.ctx, "edit the body", chromedp.SendKeys(chromedp.CSS("#body"), "More to say."))
		got := evalJS[struct {
			Open   bool
			Detail string
			Same   bool
			Title  string
			Body   string
		}](t, page.ctx, `(() => {
			const d = document.querySelector('#preview-body details.report');
			return {Open: !!d && d.open, Detail: d ? d.querySelector('textarea').value : '',
				Same: document.querySelector('#preview-body img') === window.shownPicture,
				Title: document.getElementById('preview-title').textContent,
				Body: document.getElementById('preview-body').textContent};
		})()`)
		if !got.Open || got.Detail != detail {
			t.Errorf("Report form after editing the title and body: got open %v, %q; want open with %q", got.Open, got.Detail, detail)
		}
		if !got.Same {
			t.Errorf("the preview's picture was made again: it would reload and flicker")
		}
		if got.Title != "Our new office" || !strings.Contains(got.Body, "More to say.") {
			t.Errorf("preview: got title %q and body %q, want the edits shown", got.Title, got.Body)
		}
		checkAccessible(t, page.ctx, "the composer with a Report form open")
		saveScreenshots(t, page.ctx, "composer-report")
	})

	t.Run("BlockedContent offers no Retry", func(t *testing.T) {
		taken := encodeJPEG(t, rng, 60, 40)
		path := sampleFlow(t, page.srv, "", "image/jpeg", taken)
		runCLI(t, "", "images", "rm", "--data", page.srv.dataDir, "--reason", "spam", "--block", path)
		page.pick(page.file("again.jpg", taken))
		class, state := page.settled("again.jpg")
		if want := plainSentence(t, state, "again.jpg"); class != "failed" || state != want || !strings.HasSuffix(state, "(BlockedContent)") {
			t.Errorf("again.jpg: got %s %q, want failed %q (BlockedContent)", class, state, want)
		}
		if got := page.buttons("again.jpg"); !slices.Equal(got, []string{"Remove"}) {
			t.Errorf("buttons: got %q, want Remove only: a retry cannot help", got)
		}
		if b := page.body(); strings.Contains(b, "again.jpg") {
			t.Errorf("body: got %q, want no placeholder of again.jpg", b)
		}
		checkAccessible(t, page.ctx, "the composer after BlockedContent")
	})
	page.reportErrors()
}

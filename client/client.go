// Package client uploads images through the User Images API of a userimages
// server: the three steps of Zendesk's Help Center "User Images API", with
// typed errors, safe retries and upload progress.
//
//	c, err := client.New("https://images.example.com", client.WithAPIToken("ann@example.com", token))
//	img, err := c.UploadFile(ctx, "photo.jpg", "10016", nil)
//	fmt.Println(img.Path) // /hc/user_images/81TKxGEqVJruMIz7RCN8JA.jpeg
//
// The API is Zendesk's, so the same client works against Zendesk itself:
// give it the base URL https://{subdomain}.zendesk.com and Basic email/token
// credentials (WithAPIToken). Nothing here depends on the userimages server's
// code; the package imports only the standard library.
//
// Upload runs the three steps:
//
//  1. POST /api/v2/guide/user_images/uploads {"content_type","file_size"};
//  2. PUT the bytes to the returned upload.url with every header in
//     upload.headers, and no Authorization (the URL is presigned and may
//     point at an object store such as S3 rather than at the server);
//  3. POST /api/v2/guide/user_images {"token","brand_id"}, brand_id a string.
//
// Failures the server explains are *Error values; see Error for the codes.
package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/userimages/userimages/client/api"
)

// DefaultTimeout bounds each HTTP request of the default *http.Client,
// including sending a whole upload.
const DefaultTimeout = 5 * time.Minute

// maxAnswer is how much of a response body is read.
const maxAnswer = 1 << 20

// Client uploads images to one server. It is safe for concurrent use.
type Client struct {
	base   string // scheme://host[/prefix], no trailing slash
	auth   string // Authorization header value of API requests, or ""
	hc     *http.Client
	policy RetryPolicy
	// sleep waits d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// Option configures a Client.
type Option func(*settings) error

type settings struct {
	auth      string
	authGiven int
	hc        *http.Client
	policy    RetryPolicy
}

// WithPassword authenticates API requests with Basic email:password.
func WithPassword(email, password string) Option {
	return func(s *settings) error {
		if err := checkEmail(email); err != nil {
			return err
		}
		if password == "" {
			return errors.New("WithPassword: empty password")
		}
		s.setAuth("Basic " + base64.StdEncoding.EncodeToString([]byte(email+":"+password)))
		return nil
	}
}

// WithAPIToken authenticates API requests with Basic email/token:token,
// Zendesk's API token scheme.
func WithAPIToken(email, token string) Option {
	return func(s *settings) error {
		if err := checkEmail(email); err != nil {
			return err
		}
		if token == "" {
			return errors.New("WithAPIToken: empty token")
		}
		s.setAuth("Basic " + base64.StdEncoding.EncodeToString([]byte(email+api.APITokenUserSuffix+":"+token)))
		return nil
	}
}

// WithBearer authenticates API requests with Bearer token: a userimages API
// token, or a Zendesk OAuth access token.
func WithBearer(token string) Option {
	return func(s *settings) error {
		if token == "" || strings.ContainsAny(token, " \t\r\n") {
			return errors.New("WithBearer: the token must be non-empty without spaces")
		}
		s.setAuth("Bearer " + token)
		return nil
	}
}

// WithHTTPClient sends every request with hc instead of a client with
// DefaultTimeout. The retry policy applies on top of whatever hc does.
func WithHTTPClient(hc *http.Client) Option {
	return func(s *settings) error {
		if hc == nil {
			return errors.New("WithHTTPClient: nil *http.Client")
		}
		s.hc = hc
		return nil
	}
}

// WithRetry sets the retry policy; the default is DefaultRetryPolicy, and
// NoRetry turns retries off.
func WithRetry(p RetryPolicy) Option {
	return func(s *settings) error {
		if err := p.validate(); err != nil {
			return err
		}
		s.policy = p
		return nil
	}
}

func (s *settings) setAuth(v string) {
	s.auth = v
	s.authGiven++
}

func checkEmail(email string) error {
	if email == "" || strings.ContainsAny(email, ": \t\r\n") {
		return fmt.Errorf("email %q: want a non-empty address without ':' or spaces", email)
	}
	return nil
}

// New returns a Client for the server at baseURL, scheme://host[:port]
// (a path prefix is kept: the API is under baseURL+"/api/v2/…"). Without a
// credential option the client is anonymous, which the API allows. At most
// one of WithPassword, WithAPIToken and WithBearer may be given.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("client: base URL %q: want http(s)://host[:port] without user, query or fragment", baseURL)
	}
	s := settings{policy: DefaultRetryPolicy()}
	for _, o := range opts {
		if err := o(&s); err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
	}
	if s.authGiven > 1 {
		return nil, errors.New("client: give at most one of WithPassword, WithAPIToken and WithBearer")
	}
	if s.hc == nil {
		s.hc = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{base: strings.TrimSuffix(u.String(), "/"), auth: s.auth, hc: s.hc, policy: s.policy, sleep: sleepCtx}, nil
}

// BaseURL returns the server's base URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

// Image is an uploaded image.
type Image struct {
	ContentType string // e.g. image/jpeg
	Path        string // /hc/user_images/<id>.<ext>: what goes into a post
	Size        int64  // bytes served
	URL         string // the base URL + Path
	// Width and Height are the picture's size in pixels as it is shown
	// (upright), as the server said it (api.ImageWidthHeader with the
	// claim, or Client.Measure); 0 when it did not (Zendesk, or an image
	// a userimages server stored before it kept sizes). Srcset reads
	// Width.
	Width, Height int
}

// Upload uploads size bytes from r as an image of contentType to brandID
// and returns the published image.
//
// If r is an io.ReadSeeker (an *os.File, a *bytes.Reader, …) the PUT of the
// bytes is retried like the other steps, r being rewound to where it was;
// otherwise the PUT is attempted once. A negative size with a seekable r
// means "up to r's end".
//
// progress, if not nil, is called with the bytes of the PUT sent so far and
// size: first with 0, then as the body is sent; on a retry it starts again
// from 0. It is called from the goroutine sending the body, never
// concurrently with itself, and never after Upload returns.
//
// The error is an *Error (use errors.As) when a server or object store
// answered with an error, a context error when ctx ended, and otherwise a
// network or local error.
func (c *Client) Upload(ctx context.Context, r io.Reader, contentType string, size int64, brandID string, progress func(sent, total int64)) (Image, error) {
	if contentType == "" {
		return Image{}, localError(api.CodeUnsupportedContentType, api.PropContentType, "no content type given")
	}
	if brandID == "" {
		return Image{}, localError(api.CodeInvalidProperty, api.PropBrandID, "no brand id given")
	}
	body, err := newBody(r, size)
	if err != nil {
		return Image{}, err
	}
	size = body.size

	var up api.CreateUploadResponse
	_, err = c.postJSON(ctx, api.RouteCreateUpload, api.CreateUploadRequest{ContentType: contentType, FileSize: size}, &up)
	if err != nil {
		return Image{}, fmt.Errorf("create upload: %w", err)
	}
	if up.Upload.Token == "" || up.Upload.URL == "" {
		return Image{}, errors.New("create upload: the answer has no upload.token or upload.url")
	}
	putURL, err := url.Parse(c.base + "/")
	if err == nil {
		putURL, err = putURL.Parse(up.Upload.URL) // absolute as a rule; relative resolves against the base
	}
	if err != nil {
		return Image{}, fmt.Errorf("create upload: upload.url: %w", err)
	}
	if err := c.put(ctx, putURL.String(), up.Upload.Headers, body, progress); err != nil {
		return Image{}, fmt.Errorf("upload the bytes: %w", err)
	}

	var claimed api.ClaimResponse
	header, err := c.postJSON(ctx, api.RouteClaim, api.ClaimRequest{Token: up.Upload.Token, BrandID: brandID}, &claimed)
	if err != nil {
		return Image{}, fmt.Errorf("claim: %w", err)
	}
	ui := claimed.UserImage
	if ui.Path == "" {
		return Image{}, errors.New("claim: the answer has no user_image.path")
	}
	img := Image{ContentType: ui.ContentType, Path: ui.Path, Size: ui.Size, URL: ui.Path}
	img.Width, img.Height = imageSize(header)
	if !strings.HasPrefix(ui.Path, "http://") && !strings.HasPrefix(ui.Path, "https://") {
		img.URL = c.base + "/" + strings.TrimPrefix(ui.Path, "/")
	}
	return img, nil
}

// UploadFile uploads the file at path, its content type detected from its
// first bytes (JPEG, PNG, GIF or WebP; anything else is refused before any
// request with an *Error of api.CodeUnsupportedContentType and Status 0). The
// PUT is retried like the other steps. See Upload.
func (c *Client) UploadFile(ctx context.Context, path, brandID string, progress func(sent, total int64)) (Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return Image{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Image{}, err
	}
	if !fi.Mode().IsRegular() {
		return Image{}, fmt.Errorf("%s: not a regular file", path)
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return Image{}, fmt.Errorf("%s: %w", path, err)
	}
	ct, err := DetectContentType(head[:n])
	if err != nil {
		return Image{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Image{}, err
	}
	return c.Upload(ctx, f, ct, fi.Size(), brandID, progress)
}

// DetectContentType returns the image type of data from its first bytes
// (512 are enough): JPEG, PNG, GIF or WebP. Anything else, including no
// bytes, is an *Error of api.CodeUnsupportedContentType with Status 0.
func DetectContentType(head []byte) (string, error) {
	if len(head) == 0 {
		return "", localError(api.CodeInvalidFileSize, api.PropFileSize, "the file is empty")
	}
	if f, ok := api.Detect(head); ok {
		return f.MIME, nil
	}
	ct, _, _ := strings.Cut(http.DetectContentType(head), ";")
	return "", localError(api.CodeUnsupportedContentType, api.PropContentType,
		fmt.Sprintf("the file looks like %s; only %s images can be uploaded", ct, formatNames()))
}

// formatNames lists the names of api.Formats: "JPEG, PNG, GIF and WebP".
func formatNames() string {
	var names []string
	for _, f := range api.Formats() {
		names = append(names, f.Name)
	}
	last := len(names) - 1
	return strings.Join(names[:last], ", ") + " and " + names[last]
}

// postJSON POSTs payload as JSON to route, one of the API's POSTs without
// wildcards, with the client's credentials and decodes a 2xx answer into
// out, retrying where that is safe. It returns the answer's headers.
func (c *Client) postJSON(ctx context.Context, route api.Route, payload, out any) (http.Header, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	var header http.Header
	err = c.retry(ctx, func(int) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, route.Method(), c.base+route.Path(), bytes.NewReader(b))
		if err != nil {
			return false, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		res, err := c.hc.Do(req)
		if err != nil {
			return ctx.Err() == nil, err
		}
		answer, err := readAnswer(res)
		if err != nil {
			return ctx.Err() == nil, err
		}
		if e := responseError(res, answer); e != nil {
			return retryableStatus(res.StatusCode), e
		}
		if err := json.Unmarshal(answer, out); err != nil {
			return false, fmt.Errorf("HTTP %d with an answer that is not the API's JSON (is the base URL right?): %w", res.StatusCode, err)
		}
		header = res.Header
		return false, nil
	})
	return header, err
}

// put sends body to the presigned upload URL with exactly the given
// headers. It is retried only when body can be rewound; then a 409
// AlreadyUploaded means an earlier attempt landed.
// withoutUploadURL cuts the URL in a *url.Error (which the standard
// client quotes in its message, and so in logs and terminals) to its
// scheme and host: an upload URL's query is its signature, and its path
// may hold the upload's token, which claims it.
func withoutUploadURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			ue.URL = u.Scheme + "://" + u.Host + "/…"
		} else {
			ue.URL = "(the upload URL)"
		}
	}
	return err
}

func (c *Client) put(ctx context.Context, rawURL string, headers map[string]string, body *body, progress func(sent, total int64)) error {
	return c.retry(ctx, func(attempt int) (bool, error) {
		if attempt > 1 {
			if err := body.rewind(); err != nil {
				return false, err
			}
		}
		pr := &progressReader{r: io.LimitReader(body.r, body.size), total: body.size, fn: progress}
		pr.start()
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, rawURL, pr)
		if err != nil {
			return false, err
		}
		req.ContentLength = body.size
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := c.hc.Do(req)
		err = withoutUploadURL(err)
		if localErr := pr.stop(body.seekable); localErr != nil {
			if res != nil {
				res.Body.Close()
			}
			return false, localErr
		}
		if err != nil {
			return body.seekable && ctx.Err() == nil, err
		}
		answer, err := readAnswer(res)
		if err != nil {
			return body.seekable && ctx.Err() == nil, err
		}
		if e := responseError(res, answer); e != nil {
			if attempt > 1 && e.Code == api.CodeAlreadyUploaded {
				return false, nil // the bytes of an earlier attempt arrived
			}
			return body.seekable && retryableStatus(res.StatusCode), e
		}
		return false, nil
	})
}

// readAnswer reads and closes a response body, at most maxAnswer bytes.
func readAnswer(res *http.Response) ([]byte, error) {
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return b, fmt.Errorf("HTTP %d: reading the answer: %w", res.StatusCode, err)
	}
	return b, nil
}

// body is what Upload sends.
type body struct {
	r        io.Reader
	size     int64
	seekable bool
	start    int64 // r's offset at the start, when seekable
}

func newBody(r io.Reader, size int64) (*body, error) {
	if r == nil {
		return nil, errors.New("nil reader")
	}
	b := &body{r: r, size: size}
	if s, ok := r.(io.Seeker); ok {
		if off, err := s.Seek(0, io.SeekCurrent); err == nil { // a pipe is an *os.File too, but fails here
			b.seekable, b.start = true, off
			if size < 0 {
				end, err := s.Seek(0, io.SeekEnd)
				if err != nil {
					return nil, err
				}
				if _, err := s.Seek(off, io.SeekStart); err != nil {
					return nil, err
				}
				b.size = end - off
			}
		}
	}
	if b.size < 1 {
		return nil, localError(api.CodeInvalidFileSize, api.PropFileSize, fmt.Sprintf("the size must be a positive number of bytes, not %d", b.size))
	}
	return b, nil
}

func (b *body) rewind() error {
	if _, err := b.r.(io.Seeker).Seek(b.start, io.SeekStart); err != nil {
		return fmt.Errorf("rewind the body to retry: %w", err)
	}
	return nil
}

// errAttemptOver is read by a transport still reading the body of an
// attempt that has ended.
var errAttemptOver = errors.New("client: this upload attempt has ended")

// progressReader counts the bytes of one PUT attempt and reports them.
// Once stopped, it reads no more and reports nothing.
type progressReader struct {
	r     io.Reader
	total int64
	fn    func(sent, total int64)

	readMu sync.Mutex // held while r is read
	sent   int64      // under readMu

	mu   sync.Mutex // held while fn runs
	done bool
	err  error // r failed or ended early: a local error, not retried
}

func (p *progressReader) start() {
	if p.fn != nil {
		p.fn(0, p.total)
	}
}

func (p *progressReader) Read(b []byte) (int, error) {
	p.readMu.Lock()
	defer p.readMu.Unlock()
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done {
		return 0, errAttemptOver
	}
	n, err := p.r.Read(b)
	p.sent += int64(n)
	var local error
	switch {
	case err == io.EOF && p.sent < p.total:
		local = fmt.Errorf("the body ended after %d of the %d bytes declared", p.sent, p.total)
	case err != nil && err != io.EOF:
		local = fmt.Errorf("reading the body: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if local != nil && p.err == nil {
		p.err = local
	}
	if n > 0 && p.fn != nil && !p.done {
		p.fn(p.sent, p.total)
	}
	if local != nil {
		return n, local
	}
	return n, err
}

// stop ends the attempt and returns a local read failure, if any. With
// wait, it also waits for a Read in progress, so that r may be rewound.
func (p *progressReader) stop(wait bool) error {
	p.mu.Lock()
	p.done = true
	p.mu.Unlock()
	if wait {
		p.readMu.Lock()
		//lint:ignore SA2001 an empty critical section waits for a Read in progress
		p.readMu.Unlock()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

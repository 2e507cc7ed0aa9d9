package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/userimages/userimages/client"
	"github.com/userimages/userimages/client/api"
)

// uploadCmd is `userimages upload`: the three steps of the API for each
// file, through package client, against a userimages server or Zendesk
// itself. It reads only the environment variables its help names: the
// server's (USERIMAGES_BRAND, say) are not its own.
type uploadCmd struct {
	Server  string   `help:"Base URL of the server, scheme://host[:port]; Zendesk: https://SUBDOMAIN.zendesk.com (default: ${default})." default:"http://127.0.0.1:8080" env:"USERIMAGES_SERVER" placeholder:"URL"`
	User    string   `help:"Basic credentials EMAIL:PASSWORD (default: anonymous)." env:"USERIMAGES_USER" placeholder:"EMAIL:PASSWORD"`
	Token   string   `help:"Basic API-token credentials EMAIL/token:API_TOKEN." env:"USERIMAGES_TOKEN" placeholder:"EMAIL/token:API_TOKEN"`
	Bearer  string   `help:"Bearer API token." env:"USERIMAGES_BEARER" placeholder:"TOKEN"`
	Brand   string   `help:"Id of the brand the images are for." required:"" placeholder:"ID"`
	JSON    bool     `name:"json" help:"Print one JSON object per file ({\"file\",\"path\",\"url\",\"size\",\"content_type\",\"width\",\"height\"} or {\"file\",\"error\"}) instead of its path."`
	Srcset  []int    `name:"srcset" help:"Also print each image's srcset of variant URLs at these widths (a userimages server's; Zendesk serves none), WebP where the browser takes it: after its path, or as \"srcset\" with --json. E.g. --srcset 320,640,1280." placeholder:"W,…"`
	CACert  string   `name:"cacert" help:"Also trust the CA certificates in this PEM file (a private CA, or a self-signed server's certificate), as curl --cacert." env:"USERIMAGES_CACERT" type:"existingfile" placeholder:"FILE"`
	Retries int      `help:"Retries of a request that failed in a way that may pass: network errors, ${retried_statuses}." default:"3"`
	Files   []string `arg:"" name:"file" help:"Image files (JPEG, PNG, GIF or WebP)."`
}

func (c *uploadCmd) Run(ctx context.Context, std stdio) error {
	switch {
	case strings.Contains(c.Brand, ","):
		return fmt.Errorf("upload: --brand %s: give one brand id", c.Brand)
	case c.Retries < 0:
		return fmt.Errorf("upload: --retries %d: must be 0 or more", c.Retries)
	case !strings.Contains(c.Server, "://"):
		return fmt.Errorf("upload: --server %s: give the scheme too, e.g. --server http://%s", c.Server, c.Server)
	}
	auth, err := credentials(c.User, c.Token, c.Bearer)
	if err != nil {
		return fmt.Errorf("upload: %v", err)
	}
	policy := client.DefaultRetryPolicy()
	policy.MaxAttempts = c.Retries + 1
	opts := append(auth, client.WithRetry(policy))
	if c.CACert != "" {
		hc, err := trustingClient(c.CACert)
		if err != nil {
			return fmt.Errorf("upload: --cacert %s: %v", c.CACert, err)
		}
		opts = append(opts, client.WithHTTPClient(hc))
	}
	cl, err := client.New(c.Server, opts...)
	if err != nil {
		return fmt.Errorf("upload: --server: %v", err)
	}

	u := uploader{c: cl, brand: c.Brand, asJSON: c.JSON, srcset: c.Srcset, stdout: std.out, stderr: std.err, bars: isTerminal(std.err)}
	failed := 0
	for i, file := range c.Files {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; %d of %d files not uploaded", len(c.Files)-i, len(c.Files))
		}
		err := u.one(ctx, file)
		if err == nil {
			continue
		}
		failed++
		if left := len(c.Files) - i - 1; left > 0 && failsEveryFile(err) {
			return fmt.Errorf("%d of %d files failed; %d not tried, as they would fail the same way", failed, len(c.Files), left)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files failed", failed, len(c.Files))
	}
	return nil
}

// failsEveryFile reports whether err is about the server, the credentials
// or the brand rather than one file, so that trying more files is useless.
func failsEveryFile(err error) bool {
	var e *client.Error
	var ue *url.Error
	switch {
	case errors.As(err, &e):
		switch e.Code {
		case api.CodeUnauthorized, api.CodeForbidden, api.CodeBrandNotFound, api.CodeNotFound, api.CodeMethodNotAllowed:
			return true
		case api.CodeInvalidProperty:
			return e.Pointer == api.PropBrandID.Pointer()
		case "":
			return e.Status == http.StatusNotFound || e.Status == http.StatusMethodNotAllowed
		}
	case errors.As(err, &ue): // unreachable even after the retries
		return true
	}
	return false
}

// credentials turns the credential flags, at most one of them, into options.
func credentials(user, token, bearer string) ([]client.Option, error) {
	given := 0
	for _, v := range []string{user, token, bearer} {
		if v != "" {
			given++
		}
	}
	if given > 1 {
		return nil, errors.New("give at most one of --user, --token and --bearer")
	}
	switch {
	case user != "":
		email, password, ok := strings.Cut(user, ":")
		if !ok || email == "" || password == "" {
			return nil, errors.New("--user: want EMAIL:PASSWORD")
		}
		if e, isToken := strings.CutSuffix(email, api.APITokenUserSuffix); isToken { // curl -u style API token
			return []client.Option{client.WithAPIToken(e, password)}, nil
		}
		return []client.Option{client.WithPassword(email, password)}, nil
	case token != "":
		who, secret, ok := strings.Cut(token, ":")
		email, isToken := strings.CutSuffix(who, api.APITokenUserSuffix)
		if !ok || !isToken || email == "" || secret == "" {
			return nil, errors.New("--token: want EMAIL/token:API_TOKEN (for a bare token, use --bearer)")
		}
		return []client.Option{client.WithAPIToken(email, secret)}, nil
	case bearer != "":
		return []client.Option{client.WithBearer(bearer)}, nil
	}
	return nil, nil
}

type uploader struct {
	c      *client.Client
	brand  string
	asJSON bool
	srcset []int // widths of the srcset printed with each image; none: no srcset
	stdout io.Writer
	stderr io.Writer
	bars   bool
}

// uploadResult is a line of --json output.
type uploadResult struct {
	File        string       `json:"file"`
	Path        string       `json:"path,omitempty"`
	URL         string       `json:"url,omitempty"`
	Size        int64        `json:"size,omitempty"`
	ContentType string       `json:"content_type,omitempty"`
	Width       int          `json:"width,omitempty"`
	Height      int          `json:"height,omitempty"`
	Srcset      string       `json:"srcset,omitempty"`
	Error       *uploadError `json:"error,omitempty"`
}

type uploadError struct {
	Code    api.Code `json:"code,omitempty"`
	Detail  string   `json:"detail,omitempty"`
	Status  int      `json:"status,omitempty"`
	Message string   `json:"message"`
}

// one uploads file and prints the outcome; it returns the upload's error.
func (u *uploader) one(ctx context.Context, file string) error {
	var size int64
	if fi, err := os.Stat(file); err == nil {
		size = fi.Size()
	}
	var progress func(sent, total int64)
	var bar *progressBar
	if u.bars {
		bar = &progressBar{w: u.stderr, name: file, last: -1}
		progress = bar.update
	}
	img, err := u.c.UploadFile(ctx, file, u.brand, progress)
	if bar != nil {
		bar.clear()
	}
	if err != nil {
		msg := describe(file, size, u.c.BaseURL(), err)
		fmt.Fprintln(u.stderr, "userimages: "+msg)
		if u.asJSON {
			ue := &uploadError{Detail: err.Error(), Message: msg}
			var e *client.Error
			if errors.As(err, &e) {
				ue.Code, ue.Detail, ue.Status = e.Code, e.Detail, e.Status
			}
			u.printJSON(uploadResult{File: file, Error: ue})
		}
		return err
	}
	var srcset string
	if len(u.srcset) > 0 {
		srcset = img.Srcset(u.srcset)
	}
	switch {
	case u.asJSON:
		u.printJSON(uploadResult{File: file, Path: img.Path, URL: img.URL, Size: img.Size, ContentType: img.ContentType, Width: img.Width, Height: img.Height, Srcset: srcset})
	case srcset != "":
		fmt.Fprintln(u.stdout, img.Path)
		fmt.Fprintln(u.stdout, srcset)
	default:
		fmt.Fprintln(u.stdout, img.Path)
	}
	return nil
}

func (u *uploader) printJSON(v uploadResult) {
	enc := json.NewEncoder(u.stdout)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// progressBar draws one file's upload on a terminal line.
type progressBar struct {
	w    io.Writer
	name string
	last int // percent drawn last, -1 for none
}

func (b *progressBar) update(sent, total int64) {
	if total <= 0 {
		return
	}
	pct := int(sent * 100 / total)
	if pct == b.last {
		return
	}
	b.last = pct
	const width = 30
	name := b.name
	if r := []rune(name); len(r) > 30 {
		name = "…" + string(r[len(r)-29:])
	}
	done := width * pct / 100
	fmt.Fprintf(b.w, "\r%s [%s%s] %3d%% %s / %s\x1b[K", name, strings.Repeat("=", done), strings.Repeat(" ", width-done),
		pct, humanSize(sent), humanSize(total))
}

// clear erases the bar, so that messages and paths start on a clean line.
func (b *progressBar) clear() {
	if b.last >= 0 {
		fmt.Fprint(b.w, "\r\x1b[K")
	}
}

// trustingClient is an HTTP client that trusts the system's CAs and those
// of the PEM file, with the client's default timeout.
func trustingClient(file string) (*http.Client, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate in it")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: client.DefaultTimeout}, nil
}

// describe says in plain words why file was not uploaded, followed by the
// server's own code and detail.
func describe(file string, size int64, server string, err error) string {
	var e *client.Error
	switch {
	case !errors.As(err, &e):
		return describeLocal(file, server, err)
	case e.Status == 0: // found before any request
		if e.Code == api.CodeInvalidFileSize {
			return file + " is empty"
		}
		return file + ": " + e.Detail
	}
	said := string(e.Code)
	if said == "" {
		said = fmt.Sprintf("HTTP %d", e.Status)
	}
	if e.Detail != "" && !saysDetail(e) {
		said += ": " + e.Detail
	}
	return refusal(file, size, server, e) + " (" + said + ")"
}

// saysDetail reports whether the plain sentence of e's code says what its
// detail says (BlockedContent's do), which is then not said twice.
func saysDetail(e *client.Error) bool {
	info, known := e.Code.Meaning()
	return known && strings.EqualFold(info.Sentence("this image"), e.Detail)
}

// describeLocal says why file was not uploaded when no server refused it.
func describeLocal(file, server string, err error) string {
	var ue *url.Error
	switch {
	case errors.Is(err, context.Canceled):
		return file + ": interrupted"
	case errors.Is(err, context.DeadlineExceeded):
		return file + ": timed out"
	case errors.Is(err, fs.ErrNotExist):
		return file + ": no such file"
	case errors.As(err, &ue):
		return fmt.Sprintf("%s: cannot reach %s: %v; check --server", file, server, ue.Err)
	}
	return file + ": " + err.Error()
}

// refusal says why the server refused file. The plain sentence of the
// code is the API's (the composer page shows the same); the CLI adds the
// flag to check or what to do next.
func refusal(file string, size int64, server string, e *client.Error) string {
	switch e.Code {
	case "":
		return statusRefusal(file, server, e)
	case api.CodeNotFound, api.CodeMethodNotAllowed:
		return notServer(server)
	case api.CodeFileTooLarge:
		if e.Limit > 0 && size > 0 {
			have, most := humanSize(size), humanSize(e.Limit)
			if have == most {
				have, most = exactSize(size), exactSize(e.Limit)
			}
			return fmt.Sprintf("%s is %s; the server accepts at most %s", file, have, most)
		}
	case api.CodeInvalidProperty:
		if e.Pointer == api.PropBrandID.Pointer() {
			return "the brand id is not valid; check --brand"
		}
	}
	info, known := e.Code.Meaning()
	if !known {
		return fmt.Sprintf("%s was refused (HTTP %d)", file, e.Status)
	}
	return info.Sentence(file) + codeHint(e)
}

// codeHint is what the CLI adds to the API's sentence of e's code.
func codeHint(e *client.Error) string {
	switch e.Code {
	case api.CodeUnauthorized, api.CodeForbidden:
		return "; check --user/--token/--bearer"
	case api.CodeRateLimited, api.CodeServiceUnavailable, api.CodeStorageUnavailable, api.CodeInsufficientStorage:
		return "; " + retryHint(e.RetryAfter)
	case api.CodeTokenExpired, api.CodeAlreadyUploaded, api.CodeAlreadyClaimed, api.CodeNotUploaded, api.CodeTokenNotFound:
		return "; run the command again"
	case api.CodeBrandNotFound:
		return "; check --brand"
	case api.CodeInternalError:
		return "; give its operator the request id quoted here"
	}
	return ""
}

// statusRefusal says why file was refused by an answer without a code of
// the API: a proxy's, or a server that is not userimages.
func statusRefusal(file, server string, e *client.Error) string {
	switch e.Status {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return notServer(server)
	case http.StatusRequestEntityTooLarge:
		return "a proxy in front of the server refused " + file + " as too large"
	case http.StatusTooManyRequests:
		return "slow down: too many requests; " + retryHint(e.RetryAfter)
	}
	return fmt.Sprintf("the server answered HTTP %d %s for %s", e.Status, http.StatusText(e.Status), file)
}

// notServer says that server is not a userimages server, naming it where
// the API's sentence says "the server".
func notServer(server string) string {
	info, _ := api.CodeNotFound.Info()
	return strings.Replace(info.Plain, "the server", server, 1) + "; check --server"
}

func retryHint(d time.Duration) string {
	if d <= 0 {
		return "retry later"
	}
	return fmt.Sprintf("retry after %ds", int((d+time.Second-1)/time.Second))
}

// humanSize is n bytes in decimal units, as the API's limits are (2 MB is
// 2,000,000 bytes).
func humanSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d bytes", n)
	case n < 1_000_000:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e3), ".0") + " kB"
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e6), ".0") + " MB"
}

// exactSize is n bytes with thousands separators.
func exactSize(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s + " bytes"
}

// Package s3store keeps image bytes in any S3-compatible object store (AWS
// S3, Versity S3 Gateway, MinIO, …) for the scale-out mode, and presigns the
// URLs browsers PUT uploads to and GET images from, so that bytes go straight
// between the browser and the store, as on Zendesk.
//
// Keys map to object names as prefix + key + ".blob". The suffix is there
// because file-backed S3 servers (Versity's posix backend, MinIO) store an
// object as a file and a "/" as a directory, and so cannot hold both "a" and
// "a/b"; a suffix outside the key alphabet never names a directory, so keys
// may nest as core.BlobStore allows. Objects without the suffix are not keys
// and are ignored by List.
package s3store

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/userimages/userimages/client/api"

	"userimages/core"
	"userimages/internal/config"
)

// MaxPutSize is the largest body Put accepts. Put does not know the length
// of its reader and S3's PutObject needs one (and a body it can resend on
// retry), so the body is buffered in memory, at most this much per call;
// uploads are at most a few MB.
const MaxPutSize = 8 << 20

// objectSuffix ends every object name; see the package comment.
const objectSuffix = ".blob"

// defaultRegion is used when neither the URL nor the AWS configuration
// names one; S3-compatible servers mostly accept any region.
const defaultRegion = "us-east-1"

var validKey = regexp.MustCompile(`^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$`)

// Store is a core.BlobStore, core.UploadSigner and GET presigner on one S3
// bucket. Create it with Open.
type Store struct {
	client *s3.Client
	bucket string
	prefix string // "" or ends with "/"
	origin string // scheme://host[:port] of the bucket's URLs
	// signFixed: upload URLs sign the headers whose values the service
	// fixes (Content-Disposition, X-Amz-Server-Side-Encryption).
	signFixed bool
	timeout   time.Duration // Config.Timeout
}

// DefaultTimeout is Config.Timeout's default.
const DefaultTimeout = 5 * time.Second

// Config says which bucket a Store keeps its objects in, and how it is
// reached. ParseURL reads it from an s3:// URL.
type Config struct {
	Bucket string
	// Endpoint is the server's http(s) base URL; "" is AWS S3's endpoint
	// of the region.
	Endpoint string
	// Region; "" is the AWS configuration's (AWS_REGION, the profile),
	// else us-east-1.
	Region string
	// PathStyle addresses the bucket in the path (http://host/BUCKET/key)
	// rather than the host name, as most S3-compatible servers need.
	PathStyle bool
	// Prefix is where the keys live in the bucket, such as "userimages/":
	// segments of [A-Za-z0-9_-] each followed by a slash; "" for none.
	Prefix string
	// OmitFixedHeaders: upload URLs do not sign Content-Disposition and
	// X-Amz-Server-Side-Encryption, whose values the service fixes. S3
	// refuses a PUT that omits a signed header, so clients that cannot
	// set headers (Uppy 6's AwsS3, which sends only Content-Type) need it:
	// see PresignPut. Default false: they are signed.
	OmitFixedHeaders bool
	// Timeout bounds every call to the store, the SDK's retries included:
	// connecting, waiting for the answer's headers, and each wait for
	// more of a body; past it the call fails with
	// context.DeadlineExceeded. A GET's body is read at the pace of the
	// client it is served to, so only a stall of Timeout cuts it off; a
	// PUT gets a second more per MiB of its body. It
	// is not set by the URL but by the command (serve --store-timeout).
	// Default DefaultTimeout.
	Timeout time.Duration
}

// ConfigField names a field of Config in the errors of Validate (see
// package internal/config): its string is the field's Go name.
type ConfigField string

// The fields of Config that Validate checks.
const (
	ConfigBucket   ConfigField = "Bucket"
	ConfigEndpoint ConfigField = "Endpoint"
	ConfigPrefix   ConfigField = "Prefix"
	ConfigTimeout  ConfigField = "Timeout"
)

// Validate checks c; it is pure, and the error is a *config.FieldError.
func (c Config) Validate() error {
	if c.Bucket == "" {
		return config.Invalid(ConfigBucket, c.Bucket, "want a bucket name")
	}
	if c.Endpoint != "" {
		e, err := url.Parse(c.Endpoint)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return config.Invalid(ConfigEndpoint, c.Endpoint, "want an http(s) URL")
		}
	}
	if c.Prefix != "" && (!strings.HasSuffix(c.Prefix, "/") || !validKey.MatchString(strings.TrimSuffix(c.Prefix, "/"))) {
		return config.Invalid(ConfigPrefix, c.Prefix, "must be segments of [A-Za-z0-9_-] each followed by a slash")
	}
	if c.Timeout < 0 || c.Timeout > 0 && c.Timeout < 10*time.Millisecond {
		return config.Invalid(ConfigTimeout, c.Timeout, "must be at least 10ms")
	}
	return nil
}

// ParseURL reads a Config from rawURL, which has the form
//
//	s3://BUCKET?endpoint=URL&region=REGION&path_style=BOOL&prefix=PREFIX&sign_fixed_headers=BOOL
//
// where every parameter is optional and sets the Config field of its
// name (sign_fixed_headers=false sets OmitFixedHeaders); path_style
// defaults to true when endpoint is set (most S3-compatible servers need
// it), else false. It does no I/O.
func ParseURL(rawURL string) (Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Config{}, fmt.Errorf("s3 url: %w", err)
	}
	if u.Scheme != "s3" || u.Host == "" || u.Port() != "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return Config{}, fmt.Errorf("s3 url %q: want s3://BUCKET?endpoint=…&region=…&path_style=…&prefix=… (put a key prefix in prefix=, not the path)", rawURL)
	}
	c := Config{Bucket: u.Host}
	query := u.Query()
	for name, values := range query {
		if len(values) != 1 {
			return Config{}, fmt.Errorf("s3 url: parameter %s given %d times", name, len(values))
		}
		if err := c.set(name, values[0]); err != nil {
			return Config{}, fmt.Errorf("s3 url: %w", err)
		}
	}
	if !query.Has("path_style") {
		c.PathStyle = c.Endpoint != ""
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("s3 url: %w", err)
	}
	return c, nil
}

// set sets the field of the URL parameter name to v.
func (c *Config) set(name, v string) error {
	switch name {
	case "endpoint":
		c.Endpoint = v
	case "region":
		c.Region = v
	case "prefix":
		c.Prefix = v
	case "path_style", "sign_fixed_headers":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s %q is not true or false", name, v)
		}
		if name == "path_style" {
			c.PathStyle = b
		} else {
			c.OmitFixedHeaders = !b
		}
	default:
		return fmt.Errorf("unknown parameter %q (known: endpoint, region, path_style, prefix, sign_fixed_headers)", name)
	}
	return nil
}

// Open returns a Store for rawURL (see ParseURL).
//
// Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, the shared files and profile, then the platform's
// roles). Open does no I/O against the store; a wrong bucket or credentials
// show at the first call (the server's /readyz lists the store).
func Open(ctx context.Context, rawURL string) (*Store, error) {
	c, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return New(ctx, c)
}

// New returns a Store for c, with credentials as Open says.
func New(ctx context.Context, c Config) (*Store, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("s3store: %w", err)
	}
	var opts []func(*awsconfig.LoadOptions) error
	if c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(c.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 config: %w", err)
	}
	cfg.Region = cmp.Or(cfg.Region, defaultRegion)
	s := &Store{bucket: c.Bucket, prefix: c.Prefix, signFixed: !c.OmitFixedHeaders, timeout: cmp.Or(c.Timeout, DefaultTimeout)}
	cfg.HTTPClient = httpClient(s.timeout)
	s.client = s3.NewFromConfig(cfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = c.PathStyle
		// Checksums only where S3 requires them: many S3-compatible
		// servers reject the SDK's default trailing checksums, and
		// SigV4 already covers the payload's SHA-256.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		// S3 answers 409 to a conditional write racing another one to
		// the same key; retrying settles which one wins.
		o.Retryer = retry.AddWithErrorCodes(o.Retryer, "ConditionalRequestConflict")
	})
	params := s3.EndpointParameters{Bucket: &s.bucket, Region: &cfg.Region, ForcePathStyle: aws.Bool(c.PathStyle)}
	if c.Endpoint != "" {
		params.Endpoint = &c.Endpoint
	}
	ep, err := s3.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("s3 endpoint of bucket %s: %w", s.bucket, err)
	}
	s.origin = ep.URI.Scheme + "://" + ep.URI.Host
	return s, nil
}

// httpClient is the SDK's HTTP client with every wait bounded by timeout:
// the dial, the TLS handshake, the answer's headers and each read of a
// body (which resets on every byte, so a slow but moving download goes
// on). The whole call, retries included, is bounded by the deadline each
// method sets (bound).
func httpClient(timeout time.Duration) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = timeout }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = timeout
			tr.ResponseHeaderTimeout = timeout
		}).
		WithReadTimeout(timeout)
}

// bound gives a call its deadline, Config.Timeout from now: the SDK's
// retries stop at it.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// UploadOrigin is the scheme://host[:port] that upload URLs and presigned
// GETs point at, for pages that must be allowed to connect there (a
// Content-Security-Policy's connect-src). It is resolved from the bucket,
// region, endpoint and path style, without a request.
func (s *Store) UploadOrigin() string { return s.origin }

// ObjectName returns the name of key's object in the bucket (see the
// package comment), for URLs of a CDN serving the bucket, or an error if key
// is invalid.
func (s *Store) ObjectName(key string) (string, error) {
	if !validKey.MatchString(key) {
		return "", fmt.Errorf("blob key %q: invalid", key)
	}
	return s.prefix + key + objectSuffix, nil
}

// Put buffers r (at most MaxPutSize bytes) and stores it with a conditional
// PutObject (If-None-Match: *), which the server refuses with 412 if the
// object exists, atomically, so that concurrent Puts of one key have one
// winner. The server must honour If-None-Match on PUT (AWS S3, Versity,
// MinIO and R2 do); one that ignored it would let a Put overwrite.
//
// Bytes that are a JPEG, PNG, GIF or WebP image get that Content-Type, so
// that the object serves right when GET straight from the store (presigned
// or through a CDN); other bytes get none.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (err error) {
	defer func() { err = fault(err) }()
	obj, err := s.ObjectName(key)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(r, MaxPutSize+1)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if buf.Len() > MaxPutSize {
		return fmt.Errorf("put %s: body over the limit of %d bytes", key, MaxPutSize)
	}
	// The body must be sent within the deadline too: a second more per
	// MiB, so that a large image on a slow link is not refused forever.
	ctx, cancel := context.WithTimeout(ctx, s.timeout+time.Duration(buf.Len())*time.Second/(1<<20))
	defer cancel()
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &obj,
		Body:          bytes.NewReader(buf.Bytes()),
		ContentLength: aws.Int64(int64(buf.Len())),
		ContentType:   imageType(buf.Bytes()),
		IfNoneMatch:   aws.String("*"),
	})
	if err != nil && status(err) == 0 && ctx.Err() == nil {
		// No answer: a store refusing a conditional PUT may answer and
		// close the connection while the body is still being sent. What is
		// stored under the key now tells what happened.
		switch s.putOutcome(ctx, obj, buf.Bytes()) {
		case putStored:
			return nil
		case putTaken:
			return fmt.Errorf("put %s: %w (%v)", key, core.ErrExist, err)
		}
	}
	if status(err) == http.StatusPreconditionFailed {
		return fmt.Errorf("put %s: %w", key, core.ErrExist)
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Outcomes of a PUT whose answer was lost.
const (
	putUnknown = iota // no object, or the store cannot say
	putStored         // the object is these bytes: the PUT succeeded
	putTaken          // the object is other bytes: another PUT won
)

// putOutcome looks at what obj holds after a PUT of data lost its answer.
// A single-part object's ETag is the MD5 of its bytes (not a security
// check: it only tells this PUT's bytes from another's). Where it is not
// (SSE-KMS), a PUT that did succeed reads as taken: the caller retries
// under another key, and the sweeper's orphan scan removes this one.
func (s *Store) putOutcome(ctx context.Context, obj string, data []byte) int {
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &obj})
	if err != nil {
		return putUnknown
	}
	sum := md5.Sum(data)
	if strings.Trim(aws.ToString(head.ETag), `"`) == hex.EncodeToString(sum[:]) {
		return putStored
	}
	return putTaken
}

// imageType returns the Content-Type of data if it is one of the images the
// service accepts, else nil.
func imageType(data []byte) *string {
	if f, ok := api.Detect(data); ok {
		return &f.MIME
	}
	return nil
}

// Open returns the object of key after a HeadObject, which gives its size,
// modification time and ETag; bytes are fetched only when read (see blob).
// Reads use ctx.
func (s *Store) Open(ctx context.Context, key string) (_ core.Blob, err error) {
	defer func() { err = fault(err) }()
	obj, err := s.ObjectName(key)
	if err != nil {
		return nil, err
	}
	hctx, cancel := s.bound(ctx)
	defer cancel()
	head, err := s.client.HeadObject(hctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &obj})
	if isNotFound(err) {
		return nil, fmt.Errorf("open %s: %w", key, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return &blob{ctx: ctx, s: s, key: key, obj: obj, size: aws.ToInt64(head.ContentLength),
		modTime: aws.ToTime(head.LastModified), etag: aws.ToString(head.ETag)}, nil
}

// Delete removes key. S3 answers a delete of a missing object with success
// already; a 404 is taken as such too, for servers that send it.
func (s *Store) Delete(ctx context.Context, key string) (err error) {
	defer func() { err = fault(err) }()
	obj, err := s.ObjectName(key)
	if err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &obj})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List pages through ListObjectsV2 below prefix, which must be empty or
// end in a slash.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, modTime time.Time) error) (err error) {
	defer func() { err = fault(err) }()
	if prefix != "" && (!strings.HasSuffix(prefix, "/") || !validKey.MatchString(strings.TrimSuffix(prefix, "/"))) {
		return fmt.Errorf("list %q: prefix must be a key followed by a slash", prefix)
	}
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: &s.bucket,
		Prefix: aws.String(s.prefix + prefix),
	})
	for pages.HasMorePages() {
		page, err := s.listPage(ctx, pages)
		if err != nil {
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		for _, o := range page.Contents {
			key, ok := strings.CutSuffix(strings.TrimPrefix(aws.ToString(o.Key), s.prefix), objectSuffix)
			if !ok || !validKey.MatchString(key) {
				continue
			}
			if err := fn(key, aws.ToTime(o.LastModified)); err != nil {
				return fmt.Errorf("list %q: %w", prefix, err)
			}
		}
	}
	return nil
}

// listPage fetches the next page of a listing within the store's timeout.
func (s *Store) listPage(ctx context.Context, pages *s3.ListObjectsV2Paginator) (*s3.ListObjectsV2Output, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return pages.NextPage(ctx)
}

// PresignPut implements core.UploadSigner with an S3 presigned PutObject
// URL for p.Key, signed at p.Now (if set) for p.TTL. It signs
// Content-Length = p.FileSize, so the store itself refuses a body of
// another size, and each of p.Headers: Content-Type, Content-Disposition
// and X-Amz-Server-Side-Encryption (others are an error). The returned
// headers are p.Headers: the browser sends Content-Length itself.
//
// With sign_fixed_headers=false, Content-Disposition and
// X-Amz-Server-Side-Encryption are not signed, so that a PUT that sends
// only Content-Type (and the browser's Content-Length) is accepted; the
// headers returned leave X-Amz-Server-Side-Encryption out, since S3
// refuses an x-amz- header that is not signed. The store then no longer
// enforces them: the staged object gets whatever Content-Disposition the
// caller sends (it is never served: the service stores the checked copy
// with its own headers), and the bucket's default encryption instead of
// the requested one. The declared size and type stay signed.
//
// S3 cannot make the URL single-use: until it expires, a second PUT
// replaces the staged bytes.
func (s *Store) PresignPut(ctx context.Context, p core.PresignParams) (_ core.UploadTarget, err error) {
	defer func() { err = fault(err) }()
	obj, err := s.ObjectName(p.Key)
	if err != nil {
		return core.UploadTarget{}, fmt.Errorf("presign %s: %w", p.Token, err)
	}
	in := &s3.PutObjectInput{Bucket: &s.bucket, Key: &obj, ContentLength: aws.Int64(p.FileSize)}
	for name, v := range p.Headers {
		switch http.CanonicalHeaderKey(name) {
		case "Content-Type":
			in.ContentType = aws.String(v)
		case "Content-Disposition":
			if s.signFixed {
				in.ContentDisposition = aws.String(v)
			}
		case "X-Amz-Server-Side-Encryption":
			if s.signFixed {
				in.ServerSideEncryption = types.ServerSideEncryption(v)
			}
		default:
			return core.UploadTarget{}, fmt.Errorf("presign %s: header %s cannot be signed", p.Token, name)
		}
	}
	req, err := s3.NewPresignClient(s.client).PresignPutObject(ctx, in, s.presignOptions(p.Now, p.TTL))
	if err != nil {
		return core.UploadTarget{}, fmt.Errorf("presign %s: %w", p.Token, err)
	}
	headers := p.Headers
	if !s.signFixed {
		headers = maps.Clone(p.Headers)
		for name := range headers {
			if http.CanonicalHeaderKey(name) == "X-Amz-Server-Side-Encryption" {
				delete(headers, name)
			}
		}
	}
	return core.UploadTarget{URL: req.URL, Headers: headers}, nil
}

// PresignGet returns a URL that GETs key's bytes for ttl, for serving by
// redirect.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	obj, err := s.ObjectName(key)
	if err != nil {
		return "", err
	}
	req, err := s3.NewPresignClient(s.client).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &obj},
		s.presignOptions(time.Time{}, ttl))
	if err != nil {
		return "", fmt.Errorf("presign get %s: %w", key, err)
	}
	return req.URL, nil
}

// presignOptions sets a URL's lifetime and, unless now is zero, its signing
// time: the SDK signs at the wall clock, the service at the time it
// records for the upload.
func (s *Store) presignOptions(now time.Time, ttl time.Duration) func(*s3.PresignOptions) {
	return func(o *s3.PresignOptions) {
		o.Expires = ttl
		if !now.IsZero() {
			o.Presigner = signAt{now: now, signer: v4.NewSigner(func(so *v4.SignerOptions) {
				so.DisableURIPathEscaping = true // as the S3 client's own presigner
			})}
		}
	}
}

// signAt is a presigner that signs at a fixed time.
type signAt struct {
	now    time.Time
	signer *v4.Signer
}

func (a signAt) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string,
	_ time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return a.signer.PresignHTTP(ctx, creds, r, payloadHash, service, region, a.now, optFns...)
}

// status returns the HTTP status of a failed S3 call, or 0.
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isNotFound reports whether err says the object is missing; a missing
// bucket is a misconfiguration, not a missing key.
func isNotFound(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "NoSuchBucket" {
		return false
	}
	return status(err) == http.StatusNotFound
}

var (
	_ core.BlobStore    = (*Store)(nil)
	_ core.UploadSigner = (*Store)(nil)
)

// fault marks an error of the store as its own (core.StoreFault): every
// error a BlobStore method returns passes it, as go-cloud's drivers
// classify their own.
func fault(err error) error { return core.StoreFault(err) }

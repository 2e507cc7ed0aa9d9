package s3store

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"userimages/core"
	"userimages/s3store/s3test"
	"userimages/storetest"
)

// open returns a Store on a fresh bucket of srv, with query appended to
// its URL (such as "&prefix=p/").
func open(t *testing.T, srv *s3test.Server, query string) *Store {
	t.Helper()
	s, err := Open(t.Context(), srv.URL(srv.NewBucket(t))+query)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestBlobStore(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	storetest.TestBlobStore(t, func(t *testing.T) core.BlobStore { return open(t, srv, "") })
}

func TestBlobStoreWithPrefix(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	storetest.TestBlobStore(t, func(t *testing.T) core.BlobStore { return open(t, srv, "&prefix=userimages/v1/") })
}

// TestObjectNames checks where keys land in the bucket, and that List
// reports only keys: not objects outside the prefix or without the suffix.
func TestObjectNames(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	s := open(t, srv, "&prefix=ui/")
	ctx := t.Context()
	if err := s.Put(ctx, "images/abc", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ui/images/foreign", "images/abc.blob", "ui/images/a.b.blob", "ui/images/.blob"} {
		if _, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: aws.String(name), Body: strings.NewReader("f")}); err != nil {
			t.Fatalf("PutObject(%s): %v", name, err)
		}
	}
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range out.Contents {
		names = append(names, aws.ToString(o.Key))
	}
	if !slices.Contains(names, "ui/images/abc.blob") {
		t.Errorf("objects: got %q, want ui/images/abc.blob among them", names)
	}
	var keys []string
	if err := s.List(ctx, "", func(key string, _ time.Time) error { keys = append(keys, key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"images/abc"}) {
		t.Errorf("List: got %q, want [images/abc]", keys)
	}
}

func TestOpenURL(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	for _, tt := range []struct {
		url       string
		region    string
		pathStyle bool
		prefix    string
	}{
		{"s3://b", defaultRegion, false, ""},
		{"s3://b?endpoint=http://127.0.0.1:9000", defaultRegion, true, ""},
		{"s3://b?endpoint=https://s3.example.com&path_style=false&region=eu-west-3&prefix=a/b-c_9/", "eu-west-3", false, "a/b-c_9/"},
		{"s3://my.bucket/?region=us-west-2&path_style=1", "us-west-2", true, ""},
	} {
		s, err := Open(t.Context(), tt.url)
		if err != nil {
			t.Errorf("Open(%s): %v", tt.url, err)
			continue
		}
		o := s.client.Options()
		if o.Region != tt.region || o.UsePathStyle != tt.pathStyle || s.prefix != tt.prefix {
			t.Errorf("Open(%s): got region %q, path style %v, prefix %q, want %q, %v, %q",
				tt.url, o.Region, o.UsePathStyle, s.prefix, tt.region, tt.pathStyle, tt.prefix)
		}
	}
	for _, bad := range []string{
		"", "b", "http://b", "s3://", "s3://b/path", "s3://b:9000", "s3://u:p@b", "s3://b#f",
		"s3://b?bucket=x", "s3://b?endpoint=127.0.0.1:9000", "s3://b?endpoint=ftp://x", "s3://b?path_style=maybe",
		"s3://b?region=a&region=b", "s3://b?prefix=p", "s3://b?prefix=/p/", "s3://b?prefix=a//", "s3://b?prefix=../",
		"s3://b?prefix=a.b/",
	} {
		if _, err := Open(t.Context(), bad); err == nil {
			t.Errorf("Open(%q): got nil, want an error", bad)
		}
	}
}

func TestPutTooLarge(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	s := open(t, srv, "")
	err := s.Put(t.Context(), "big", io.LimitReader(zeros{}, MaxPutSize+1))
	if err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Errorf("Put of %d bytes: got %v, want an error saying it is over the limit", MaxPutSize+1, err)
	}
	if _, err := s.Open(t.Context(), "big"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Open after a refused Put: got %v, want ErrNotFound", err)
	}
	if err := s.Put(t.Context(), "max", io.LimitReader(zeros{}, MaxPutSize)); err != nil {
		t.Errorf("Put of %d bytes: %v", MaxPutSize, err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// counter counts the requests a Store sends, by method.
type counter struct {
	mu    sync.Mutex
	count map[string]int
	next  http.RoundTripper
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.count[r.Method]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// take returns the counts so far and resets them.
func (c *counter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.count
	c.count = map[string]int{}
	return got
}

// counted makes s send its requests through a new counter.
func counted(s *Store) *counter {
	c := &counter{count: map[string]int{}, next: http.DefaultTransport}
	s.client = s3.New(s.client.Options(), func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: c} })
	return c
}

func checkCount(t *testing.T, what string, c *counter, want map[string]int) {
	t.Helper()
	got := c.take()
	for m, n := range want {
		if got[m] != n {
			t.Errorf("%s: got %d %s requests, want %d (all: %v)", what, got[m], m, n, got)
		}
	}
	for m, n := range got {
		if _, ok := want[m]; !ok {
			t.Errorf("%s: got %d %s requests, want none", what, n, m)
		}
	}
}

func TestBlobRequests(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	s := open(t, srv, "")
	c := counted(s)
	data := make([]byte, 300_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := s.Put(t.Context(), "k", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	c.take()

	b, err := s.Open(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	checkCount(t, "Open", c, map[string]int{"HEAD": 1})
	if n, err := b.Seek(0, io.SeekEnd); n != int64(len(data)) || err != nil {
		t.Fatalf("Seek(0, End): got %d, %v", n, err)
	}
	b.Seek(0, io.SeekStart)
	checkCount(t, "Seek to the end and back", c, nil)
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAll: got %d bytes, %v, want %d bytes", len(got), err, len(data))
	}
	checkCount(t, "ReadAll", c, map[string]int{"GET": 1})
	b.Seek(200_000, io.SeekStart)
	buf := make([]byte, 1000)
	for range 3 {
		io.ReadFull(b, buf)
	}
	if !bytes.Equal(buf, data[202_000:203_000]) {
		t.Errorf("reads after Seek: got the wrong bytes")
	}
	checkCount(t, "Seek and three reads", c, map[string]int{"GET": 1})
	b.Seek(0, io.SeekCurrent)
	io.ReadFull(b, buf)
	checkCount(t, "Seek to the current position and a read", c, nil)
	b.Seek(int64(len(data)), io.SeekStart)
	if n, err := b.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("Read at the end: got %d, %v, want 0, EOF", n, err)
	}
	checkCount(t, "Read at the end", c, nil)
}

func TestBlobServeContent(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	s := open(t, srv, "")
	c := counted(s)
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(i % 251)
	}
	if err := s.Put(t.Context(), "images/x", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := s.Open(r.Context(), "images/x")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer b.Close()
		w.Header().Set("Content-Type", "image/png")
		http.ServeContent(w, r, "", b.ModTime(), b)
	}))
	defer web.Close()
	for _, tt := range []struct {
		rng    string
		status int
		want   []byte
		gets   int
	}{
		{"", 200, data, 1},
		{"bytes=0-9", 206, data[:10], 1},
		{"bytes=50000-50099", 206, data[50000:50100], 1},
		{"bytes=99990-", 206, data[99990:], 1},
		{"bytes=-20", 206, data[len(data)-20:], 1},
		{"bytes=100000-", 416, nil, 0},
	} {
		c.take()
		req, _ := http.NewRequest("GET", web.URL, nil)
		if tt.rng != "" {
			req.Header.Set("Range", tt.rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || err != nil {
			t.Errorf("Range %q: got %d, %v, want %d", tt.rng, resp.StatusCode, err, tt.status)
			continue
		}
		if tt.want != nil && !bytes.Equal(body, tt.want) {
			t.Errorf("Range %q: got %d bytes, want %d bytes %x…", tt.rng, len(body), len(tt.want), tt.want[:4])
		}
		checkCount(t, "Range "+tt.rng, c, map[string]int{"HEAD": 1, "GET": tt.gets})
	}
}

package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/crypto/bcrypt"

	"userimages/core"
	"userimages/internal/testkit/embeddedtest"
	"userimages/localdisk"
	"userimages/sqlite"
)

// readFromWriter is a ResponseWriter with ReadFrom, as net/http's is, which
// records what ReadFrom was given. net/http sends src with sendfile(2) when
// it is an *os.File or an *io.LimitedReader of one (net.TCPConn.ReadFrom).
type readFromWriter struct {
	*httptest.ResponseRecorder
	srcs []io.Reader
}

func (w *readFromWriter) ReadFrom(src io.Reader) (int64, error) {
	w.srcs = append(w.srcs, src)
	return io.Copy(w.ResponseRecorder, src) // the recorder has no ReadFrom
}

// srcTypes describes what ReadFrom was given, for failures.
func srcTypes(srcs []io.Reader) string {
	var s []string
	for _, src := range srcs {
		if lr, ok := src.(*io.LimitedReader); ok {
			s = append(s, fmt.Sprintf("*io.LimitedReader{%T}", lr.R))
		} else {
			s = append(s, fmt.Sprintf("%T", src))
		}
	}
	return "[" + strings.Join(s, " ") + "]"
}

// sendfileable reports whether net/http would send src with sendfile(2).
func sendfileable(src io.Reader) bool {
	if lr, ok := src.(*io.LimitedReader); ok {
		src = lr.R
	}
	_, ok := src.(*os.File)
	return ok
}

func TestRecorderReadFrom(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "body")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	body := bytes.Repeat([]byte("x"), 100_000)
	f.Write(body)
	f.Seek(0, io.SeekStart)

	// A bare *os.File is a WriterTo: io.Copy would call its WriteTo, which
	// hands the writer a wrapper that is no longer an *os.File.
	for _, tt := range []struct {
		name string
		src  io.Reader
		n    int64
	}{
		{"file", f, 100_000},
		{"limited file", &io.LimitedReader{R: f, N: 60_000}, 60_000},
	} {
		t.Run("forwards a "+tt.name+" to the writer's ReadFrom", func(t *testing.T) {
			f.Seek(0, io.SeekStart)
			w := &readFromWriter{ResponseRecorder: httptest.NewRecorder()}
			rec := &recorder{ResponseWriter: w}
			n, err := rec.ReadFrom(tt.src)
			if err != nil || n != tt.n {
				t.Fatalf("ReadFrom: got %d, %v; want %d", n, err, tt.n)
			}
			if len(w.srcs) != 1 || w.srcs[0] != tt.src {
				t.Errorf("the underlying ReadFrom got %s, want the source itself", srcTypes(w.srcs))
			}
			if rec.bytes != tt.n || rec.status != http.StatusOK || int64(w.Body.Len()) != tt.n {
				t.Errorf("counted %d bytes, status %d, body %d; want %d, 200, %d", rec.bytes, rec.status, w.Body.Len(), tt.n, tt.n)
			}
		})
	}
	t.Run("copies for a writer without ReadFrom", func(t *testing.T) {
		w := httptest.NewRecorder()
		rec := &recorder{ResponseWriter: w}
		n, err := rec.ReadFrom(strings.NewReader("hello"))
		if err != nil || n != 5 || rec.bytes != 5 || w.Body.String() != "hello" {
			t.Errorf("ReadFrom: got %d, %v, counted %d, body %q", n, err, rec.bytes, w.Body.String())
		}
	})
}

// TestServeImageSendfile serves a stored image through the whole handler
// and checks that the body reached the connection's ReadFrom as a file,
// after the header was flushed; the second GET of each reads through the
// descriptor the first left in the open-file cache.
func TestServeImageSendfile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blobs, err := localdisk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := embeddedtest.MetadataOn(db)
	st.Blobs, st.Signer, st.Log = blobs, nopSigner{}, log
	svc, err := core.NewServices(core.Config{PasswordCost: bcrypt.MinCost}, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AddBrand(ctx, "10016"); err != nil {
		t.Fatal(err)
	}
	var b [16]byte
	rand.Read(b[:])
	body := bytes.Repeat([]byte("\xff\xd8jpeg"), 40_000)
	up := core.Upload{Token: ulid.Make().String(), ContentType: "image/jpeg", FileSize: int64(len(body)), CreatedAt: time.Now(),
		ImageID: base64.RawURLEncoding.EncodeToString(b[:]), Size: int64(len(body)), SHA256: strings.Repeat("ab", 32)}
	if err := db.ReceiveUpload(ctx, up); err != nil {
		t.Fatal(err)
	}
	img, err := db.ClaimUpload(ctx, core.UploadClaim{Token: up.Token, BrandID: "10016", NotBefore: up.CreatedAt, At: up.CreatedAt})
	if err != nil {
		t.Fatal(err)
	}
	if err := blobs.Put(ctx, core.ImageKey(img.ID), bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	api, err := New(ServicesOf(svc), Config{}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := api.Handler()
	for _, tt := range []struct {
		name   string
		rng    string
		status int
		want   []byte
	}{
		{"whole", "", http.StatusOK, body},
		{"range", "bytes=10-1009", http.StatusPartialContent, body[10:1010]},
		{"ranges", "bytes=0-9,100-109", http.StatusPartialContent, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 2 { // uncached, then cached
				w := &readFromWriter{ResponseRecorder: httptest.NewRecorder()}
				r := httptest.NewRequest(http.MethodGet, core.Path(img), nil)
				if tt.rng != "" {
					r.Header.Set("Range", tt.rng)
				}
				h.ServeHTTP(w, r)
				if tt.want == nil {
					// Several ranges: a multipart body, read through a
					// guard, not sent with sendfile.
					if w.Code != tt.status || !bytes.Contains(w.Body.Bytes(), body[100:110]) || !strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/byteranges") {
						t.Fatalf("GET %d: got %d, %s, %q", i, w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
					}
					continue
				}
				if w.Code != tt.status || !bytes.Equal(w.Body.Bytes(), tt.want) {
					t.Fatalf("GET %d: got %d and %d bytes, want %d and %d", i, w.Code, w.Body.Len(), tt.status, len(tt.want))
				}
				if len(w.srcs) != 1 || !sendfileable(w.srcs[0]) {
					t.Errorf("GET %d: ReadFrom got %s, want one *os.File, maybe in an *io.LimitedReader", i, srcTypes(w.srcs))
				}
				// Sent before the body, the header spares net/http's
				// ReadFrom its read of the file's first 512 bytes.
				if !w.Flushed {
					t.Errorf("GET %d: the header was not flushed before the body", i)
				}
			}
		})
	}
}

type nopSigner struct{}

func (nopSigner) PresignPut(context.Context, core.PresignParams) (core.UploadTarget, error) {
	return core.UploadTarget{URL: "http://example.invalid/"}, nil
}

// TestGuardedReader: once stopped, the reader ServeContent's range
// goroutine holds fails, so that a descriptor given back to the open-file
// cache is never read or moved by a request that is over.
func TestGuardedReader(t *testing.T) {
	g := &guardedReader{r: strings.NewReader("abcdef")}
	b := make([]byte, 3)
	if n, err := g.Read(b); n != 3 || err != nil {
		t.Fatalf("Read: %d, %v", n, err)
	}
	g.stop()
	if _, err := g.Read(b); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after stop: %v, want os.ErrClosed", err)
	}
	if _, err := g.Seek(0, io.SeekStart); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Seek after stop: %v, want os.ErrClosed", err)
	}
}

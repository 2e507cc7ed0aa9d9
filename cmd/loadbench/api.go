package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/userimages/userimages/client/api"
)

const brandID = "10016"

// upload is step 1's answer.
type upload = api.CreateUploadResponse

var jsonHeader = map[string]string{"Content-Type": "application/json"}

func createBody(size int) []byte {
	b, _ := json.Marshal(api.CreateUploadRequest{ContentType: api.JPEG.MIME, FileSize: int64(size)})
	return b
}

// createUpload is step 1; it returns the answer and its body's length.
func createUpload(ctx context.Context, c *http.Client, base string, size int) (upload, int, error) {
	var up upload
	buf, err := do(ctx, c, api.RouteCreateUpload.Method(), base+api.RouteCreateUpload.Path(), jsonHeader, createBody(size), http.StatusOK, nil)
	if err != nil {
		return up, 0, err
	}
	if err := json.Unmarshal(buf.Bytes(), &up); err != nil || up.Upload.URL == "" {
		return up, 0, fmt.Errorf("create upload: bad answer %q: %v", tail(buf.Bytes(), 300), err)
	}
	return up, buf.Len(), nil
}

// putUpload is step 2.
func putUpload(ctx context.Context, c *http.Client, up upload, data []byte) error {
	_, err := do(ctx, c, http.MethodPut, up.Upload.URL, up.Upload.Headers, data, http.StatusOK, nil)
	return err
}

// claimed is step 3's answer.
type claimed = api.ClaimResponse

// claim is step 3.
func claim(ctx context.Context, c *http.Client, base, token string) (claimed, error) {
	var img claimed
	body, _ := json.Marshal(api.ClaimRequest{Token: token, BrandID: brandID})
	buf, err := do(ctx, c, api.RouteClaim.Method(), base+api.RouteClaim.Path(), jsonHeader, body, http.StatusCreated, nil)
	if err != nil {
		return img, err
	}
	if err := json.Unmarshal(buf.Bytes(), &img); err != nil || img.UserImage.Path == "" {
		return img, fmt.Errorf("claim: bad answer %q: %v", tail(buf.Bytes(), 300), err)
	}
	return img, nil
}

// flow is the three steps of data.
func flow(ctx context.Context, c *http.Client, base string, data []byte) (claimed, error) {
	up, _, err := createUpload(ctx, c, base, len(data))
	if err != nil {
		return claimed{}, err
	}
	if err := putUpload(ctx, c, up, data); err != nil {
		return claimed{}, err
	}
	return claim(ctx, c, base, up.Upload.Token)
}

// pool hands out prepared items once each, to any worker.
type pool[T any] struct {
	items []T
	next  atomic.Int64
}

func (p *pool[T]) take() (T, error) {
	i := p.next.Add(1) - 1
	if i >= int64(len(p.items)) {
		var zero T
		return zero, errPoolEmpty
	}
	return p.items[i], nil
}

// prepare makes n items with c goroutines, untimed.
func prepare[T any](n, c int, mk func(i int) (T, error)) (*pool[T], error) {
	p := &pool[T]{items: make([]T, n)}
	var wg sync.WaitGroup
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				v, err := mk(i)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				p.items[i] = v
			}
		}()
	}
	wg.Wait()
	return p, first
}

// uploadPool creates n uploads of size bytes (and PUTs data to them when
// data is not nil), untimed, for the scenarios that time step 2 or 3.
func uploadPool(ctx context.Context, c *http.Client, base string, n, size int, data []byte) (*pool[upload], error) {
	return prepare(n, 8, func(int) (upload, error) {
		up, _, err := createUpload(ctx, c, base, size)
		if err == nil && data != nil {
			err = putUpload(ctx, c, up, data)
		}
		return up, err
	})
}

// noopAnswer is a JSON document shaped like step 1's answer, exactly size
// bytes long (with its final newline), as the no-op peer sends.
func noopAnswer(size int) ([]byte, error) {
	doc := func(pad int) []byte {
		var up upload
		up.Upload.Token = "01KAAAAAAAAAAAAAAAAAAAAAAA"
		up.Upload.Headers = map[string]string{
			"Content-Disposition":          `attachment; filename="01KAAAAAAAAAAAAAAAAAAAAAAA.jpeg"`,
			"Content-Type":                 api.JPEG.MIME,
			"X-Amz-Server-Side-Encryption": "AES256",
		}
		up.Upload.URL = "http://127.0.0.1/uploads/staging/01KAAAAAAAAAAAAAAAAAAAAAAA?X-Amz-Signature=" + string(bytes.Repeat([]byte("0"), pad))
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(up)
		return buf.Bytes()
	}
	base := len(doc(0))
	if size < base {
		return nil, fmt.Errorf("no-op answer: %d bytes is under the smallest, %d", size, base)
	}
	b := doc(size - base)
	if len(b) != size {
		return nil, fmt.Errorf("no-op answer: made %d bytes, want %d", len(b), size)
	}
	return b, nil
}

// noopHandler decodes step 1's JSON as our server must, and answers a
// body of the given size.
func noopHandler(answer []byte) http.Handler {
	n := strconv.Itoa(len(answer))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusOK)
			return
		}
		var in api.CreateUploadRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil || in.ContentType == "" || in.FileSize < 1 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", n)
		w.Write(answer)
	})
}

package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"userimages/core"
)

// blob reads an object lazily: Seek only moves the position, and a Read
// with no response body open at that position GETs the rest of the object
// from there (Range: bytes=pos-). So http.ServeContent's Seek to the end to
// learn the size downloads nothing, sequential reads are one GET, and a
// range request fetches only from its start. Every GET is pinned to the
// version Open saw (If-Match: its ETag), so the bytes of one blob all come
// from one object even if the key is replaced meanwhile.
type blob struct {
	ctx     context.Context // Open's, for the GETs
	s       *Store
	key     string
	obj     string
	size    int64
	modTime time.Time
	etag    string
	pos     int64
	// body is the open GET response whose next byte is at pos, or nil.
	body io.ReadCloser
}

func (b *blob) Size() int64        { return b.size }
func (b *blob) ModTime() time.Time { return b.modTime }

func (b *blob) Read(p []byte) (int, error) {
	if b.pos >= b.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.body == nil {
		out, err := b.s.get(b.ctx, &s3.GetObjectInput{
			Bucket:  &b.s.bucket,
			Key:     &b.obj,
			Range:   aws.String("bytes=" + strconv.FormatInt(b.pos, 10) + "-"),
			IfMatch: aws.String(b.etag),
		})
		switch {
		case isNotFound(err):
			return 0, fmt.Errorf("read %s: deleted since opened: %w", b.key, core.ErrNotFound)
		case status(err) == http.StatusPreconditionFailed:
			return 0, fault(fmt.Errorf("read %s: replaced since opened", b.key))
		case err != nil:
			return 0, fault(fmt.Errorf("read %s: %w", b.key, err))
		}
		b.body = out.Body
	}
	n, err := b.body.Read(p)
	b.pos += int64(n)
	if errors.Is(err, io.EOF) {
		b.closeBody()
		if b.pos < b.size {
			return n, fault(fmt.Errorf("read %s: %w", b.key, io.ErrUnexpectedEOF))
		}
		return n, io.EOF
	}
	if err != nil {
		b.closeBody()
		return n, fault(fmt.Errorf("read %s: %w", b.key, err))
	}
	return n, nil
}

// get starts a GET: the answer's headers must come within the store's
// timeout (its retries included); the body is then read at the caller's
// pace under ctx, each wait for more of it bounded by the HTTP client's
// read timeout.
func (s *Store) get(ctx context.Context, in *s3.GetObjectInput) (*s3.GetObjectOutput, error) {
	ctx, cancel := context.WithCancel(ctx)
	late := time.AfterFunc(s.timeout, cancel)
	out, err := s.client.GetObject(ctx, in)
	switch timedOut := !late.Stop(); {
	case timedOut:
		cancel()
		if err == nil {
			out.Body.Close()
		}
		return nil, fmt.Errorf("no answer within %s: %w", s.timeout, context.DeadlineExceeded)
	case err != nil:
		cancel()
		return nil, err
	}
	// The body's reads stop with ctx, which ends when it is closed.
	out.Body = cancelOnClose{ReadCloser: out.Body, cancel: cancel}
	return out, nil
}

// cancelOnClose releases a GET's context with its body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func (b *blob) Seek(offset int64, whence int) (int64, error) {
	pos := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		pos += b.pos
	case io.SeekEnd:
		pos += b.size
	default:
		return 0, fmt.Errorf("seek %s: invalid whence %d", b.key, whence)
	}
	if pos < 0 {
		return 0, fmt.Errorf("seek %s: negative position %d", b.key, pos)
	}
	if pos != b.pos {
		b.closeBody()
		b.pos = pos
	}
	return pos, nil
}

func (b *blob) Close() error {
	b.closeBody()
	return nil
}

// closeBody drops the open response, if any. Its unread rest is not
// wanted, so its close error is not either.
func (b *blob) closeBody() {
	if b.body != nil {
		b.body.Close()
		b.body = nil
	}
}

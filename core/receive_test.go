package core_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"testing"

	"github.com/oklog/ulid/v2"

	"userimages/core"
)

// gatedReader yields data after its first read has waited for proceed,
// first signalling started.
type gatedReader struct {
	data             *bytes.Reader
	started, proceed chan struct{}
	fail             error // returned instead of the data when set
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.started != nil {
		close(g.started)
		g.started = nil
		<-g.proceed
	}
	if g.fail != nil {
		return 0, g.fail
	}
	return g.data.Read(p)
}

// TestReceiveUploadRacingARefusedPut: two PUTs of one URL, the first
// (which recorded the upload) refused while the second streams. The second
// gets 200, so its upload must be claimable: its row is there.
func TestReceiveUploadRacingARefusedPut(t *testing.T) {
	f := newCacheFixture(t, false)
	ctx := context.Background()
	body := smallPNG(t)
	token := ulid.Make().String()
	up := core.Upload{Token: token, ContentType: "image/png", FileSize: int64(len(body)), CreatedAt: core.TokenTime(token)}

	// PUT 1 records the upload, then its connection breaks.
	firstStarted, firstProceed := make(chan struct{}), make(chan struct{})
	first := &gatedReader{data: bytes.NewReader(body), started: firstStarted, proceed: firstProceed, fail: errors.New("connection reset")}
	firstDone := make(chan error, 1)
	// Its sniff reads first: let that through, then hold the rest.
	go func() {
		firstDone <- f.a.ReceiveUpload(ctx, up, -1, &sniffThenGate{head: body[:64], rest: first})
	}()
	<-firstStarted // PUT 1 has recorded the row and is storing
	if _, err := f.db.Upload(ctx, token); err != nil {
		t.Fatalf("row after PUT 1 started: %v", err)
	}
	// PUT 2 streams meanwhile; PUT 1 fails (deleting the row it made)
	// before PUT 2's bytes are stored.
	secondStarted, secondProceed := make(chan struct{}), make(chan struct{})
	second := &gatedReader{data: bytes.NewReader(body[64:]), started: secondStarted, proceed: secondProceed}
	secondDone := make(chan error, 1)
	go func() {
		secondDone <- f.b.ReceiveUpload(ctx, up, int64(len(body)), &sniffThenGate{head: body[:64], rest: second})
	}()
	<-secondStarted // PUT 2 found the row there and is storing
	close(firstProceed)
	if err := <-firstDone; err == nil {
		t.Fatal("PUT 1: got nil, want its read error")
	}
	close(secondProceed)
	if err := <-secondDone; err != nil {
		t.Fatalf("PUT 2: got %v, want nil", err)
	}
	if _, err := f.db.Upload(ctx, token); err != nil {
		t.Errorf("row after PUT 2's 200: got %v, want it there", err)
	}
	img, err := f.b.Claim(ctx, token, "10016")
	if err != nil || img.Size != int64(len(body)) {
		t.Errorf("claim after PUT 2's 200: got %+v, %v; want the image", img, err)
	}
}

// sniffThenGate yields head at once (the server peeks at it before
// storing anything), then reads rest.
type sniffThenGate struct {
	head []byte
	rest *gatedReader
	sent bool
}

func (s *sniffThenGate) Read(p []byte) (int, error) {
	if !s.sent {
		s.sent = true
		return copy(p, s.head), nil
	}
	return s.rest.Read(p)
}

// TestReceiveUploadOfALegacyURL: a PUT through a URL issued before URLs
// carried their uploads (FileSize 0) takes the upload recorded at step 1,
// and is refused as TokenNotFound when there is none.
func TestReceiveUploadOfALegacyURL(t *testing.T) {
	f := newCacheFixture(t, false)
	ctx := context.Background()
	body := smallPNG(t)
	token := ulid.Make().String()
	recorded := core.Upload{Token: token, ContentType: "image/png", FileSize: int64(len(body)), CreatedAt: core.TokenTime(token),
		Uploader: core.Uploader{UserID: 3, ClientAddr: "192.0.2.7"}}
	if err := f.db.CreateUpload(ctx, recorded); err != nil {
		t.Fatal(err)
	}
	legacy := core.Upload{Token: token, ContentType: "image/png", CreatedAt: core.TokenTime(token)}
	if err := f.a.ReceiveUpload(ctx, legacy, int64(len(body)), bytes.NewReader(body)); err != nil {
		t.Fatalf("PUT through a legacy URL: %v", err)
	}
	img, err := f.a.Claim(ctx, token, "10016")
	if err != nil || img.Uploader != recorded.Uploader {
		t.Errorf("claim: got %+v, %v; want the image, uploaded by %+v", img, err, recorded.Uploader)
	}
	other := ulid.Make().String()
	err = f.a.ReceiveUpload(ctx, core.Upload{Token: other, ContentType: "image/png", CreatedAt: core.TokenTime(other)}, int64(len(body)), bytes.NewReader(body))
	if core.ErrorCode(err) != core.CodeTokenNotFound {
		t.Errorf("PUT through a legacy URL with no upload: got %v, want TokenNotFound", err)
	}
}

// smallPNG is a valid 4×4 PNG, more than the 64 bytes a PUT sniffs.
func smallPNG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

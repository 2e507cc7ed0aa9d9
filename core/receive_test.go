package core_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/userimages/userimages/client/api"
	"golang.org/x/crypto/bcrypt"

	"userimages/core"
	"userimages/internal/testkit/embeddedtest"
	"userimages/localdisk"
	"userimages/sqlite"
)

// faultyBlobs is a blob store that fails as told: Puts with putErr, Opens
// with openErr, and reads of opened blobs after readAfter bytes with
// readErr (io.EOF: the store cuts the object short without saying so).
// It marks the errors of Put and Open as an adapter does (core.StoreFault)
// unless unmarked. It counts Opens and Puts.
type faultyBlobs struct {
	core.BlobStore
	mu        sync.Mutex
	putErr    error
	openErr   error
	readAfter int64
	readErr   error
	unmarked  bool
	opens     atomic.Int64
	puts      atomic.Int64
}

// heal makes every later call succeed.
func (f *faultyBlobs) heal() {
	f.set(func(f *faultyBlobs) { f.putErr, f.openErr, f.readErr = nil, nil, nil })
}

func (f *faultyBlobs) set(fn func(*faultyBlobs)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *faultyBlobs) Put(ctx context.Context, key string, r io.Reader) error {
	f.puts.Add(1)
	f.mu.Lock()
	err := f.putErr
	f.mu.Unlock()
	if err != nil {
		io.Copy(io.Discard, r) // as a store failing at the end would
		return f.mark(fmt.Errorf("put %s: %w", key, err))
	}
	return f.BlobStore.Put(ctx, key, r)
}

func (f *faultyBlobs) Open(ctx context.Context, key string) (core.Blob, error) {
	f.opens.Add(1)
	f.mu.Lock()
	openErr, readErr, after := f.openErr, f.readErr, f.readAfter
	f.mu.Unlock()
	if openErr != nil {
		return nil, f.mark(fmt.Errorf("open %s: %w", key, openErr))
	}
	b, err := f.BlobStore.Open(ctx, key)
	if err != nil || readErr == nil {
		return b, err
	}
	return &failingBlob{Blob: b, left: after, err: readErr}, nil
}

// mark marks err as the store's fault, unless the store is unmarked.
func (f *faultyBlobs) mark(err error) error {
	if f.unmarked {
		return err
	}
	return core.StoreFault(err)
}

// failingBlob fails its reads with err after left bytes.
type failingBlob struct {
	core.Blob
	left int64
	err  error
}

func (b *failingBlob) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, b.err
	}
	n, err := b.Blob.Read(p[:min(int64(len(p)), b.left)])
	b.left -= int64(n)
	return n, err
}

// faultyScratch fails the writes of its scratch files with err, when set.
type faultyScratch struct {
	core.ScratchSpace
	err error
}

func (f faultyScratch) Scratch() (core.Scratch, error) {
	s, err := f.ScratchSpace.Scratch()
	if err != nil || f.err == nil {
		return s, err
	}
	return failingScratch{Scratch: s, err: f.err}, nil
}

type failingScratch struct {
	core.Scratch
	err error
}

func (f failingScratch) Write([]byte) (int, error) { return 0, f.err }

// carrier is an UploadCarrier whose URLs point nowhere: tests call
// ReceiveUpload themselves, and no PUT is verified.
type carrier struct{ nopSigner }

func (carrier) Verify(*http.Request, time.Time) (core.Upload, error) {
	return core.Upload{}, errors.New("carrier: no PUT reaches a test's URL")
}

// flowFixture is a service on real SQLite and local disk, behind faulty
// wrappers, with brand 10016.
type flowFixture struct {
	db      *sqlite.DB
	disk    *localdisk.Store
	blobs   *faultyBlobs
	scratch *faultyScratch
	svc     core.Services
	// cfg and stores are what svc was made of, for restart.
	cfg    core.Config
	stores core.Stores
}

// newFlowFixture makes a fixture whose uploads come to the service
// (carried, the embedded default) or go to the blob store (staged).
//
// configure, if any, changes the service's configuration and adapters.
func newFlowFixture(t testing.TB, carried bool, configure ...func(*core.Config, *core.Stores)) *flowFixture {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	disk, err := localdisk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AddBrand(t.Context(), "10016"); err != nil {
		t.Fatal(err)
	}
	f := &flowFixture{db: db, disk: disk, blobs: &faultyBlobs{BlobStore: disk}, scratch: &faultyScratch{ScratchSpace: disk}}
	d := embeddedtest.MetadataOn(db)
	d.Blobs, d.Signer, d.Log = f.blobs, nopSigner{}, slog.New(slog.NewTextHandler(io.Discard, nil))
	if carried {
		d.Signer, d.Scratch = carrier{}, f.scratch
	}
	cfg := core.Config{PasswordCost: bcrypt.MinCost}
	for _, c := range configure {
		c(&cfg, &d)
	}
	if f.svc, err = core.NewServices(cfg, d); err != nil {
		t.Fatal(err)
	}
	f.cfg, f.stores = cfg, d
	return f
}

// restart returns services made anew on f's stores, as an instance
// started on them has: what f.svc held in memory is not there.
func (f *flowFixture) restart(t testing.TB) core.Services {
	t.Helper()
	svc, err := core.NewServices(f.cfg, f.stores)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// upload is a carried upload of body, as a verified URL hands it over.
func carriedUpload(body []byte) core.Upload {
	token := ulid.Make().String()
	return core.Upload{Token: token, ContentType: "image/png", FileSize: int64(len(body)), CreatedAt: core.TokenTime(token),
		Uploader: core.Uploader{ClientAddr: "192.0.2.7"}}
}

// put PUTs body for up, as the PUT handler does.
func (f *flowFixture) put(t *testing.T, up core.Upload, body []byte) error {
	t.Helper()
	return f.svc.Uploads.ReceiveUpload(t.Context(), up, int64(len(body)), bytes.NewReader(body))
}

// stage creates an upload of body whose bytes go to the blob store, and
// PUTs them there as a client would.
func (f *flowFixture) stage(t *testing.T, body []byte) string {
	t.Helper()
	created, err := f.svc.Uploads.CreateUpload(t.Context(), core.CreateUploadInput{ContentType: "image/png", FileSize: int64(len(body))})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.disk.Put(t.Context(), "staging/"+created.Token, bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	return created.Token
}

// checkNothingStored fails t unless no checked copy and no record of
// token exist.
func (f *flowFixture) checkNothingStored(t *testing.T, token string) {
	t.Helper()
	if st, err := f.db.TokenStatus(t.Context(), token); err != nil || st.Upload != nil || st.Image != nil {
		t.Errorf("TokenStatus(%s): got %+v, %v, want no upload and no image", token, st, err)
	}
	n := 0
	f.disk.List(t.Context(), "images/", func(string, time.Time) error { n++; return nil })
	if n != 0 {
		t.Errorf("images/ holds %d objects, want none", n)
	}
}

// checkServed fails t unless img is served with exactly want.
func (f *flowFixture) checkServed(t *testing.T, img core.Image, want []byte) {
	t.Helper()
	_, b, err := f.svc.Serving.OpenImage(t.Context(), img.ID, "png")
	if err != nil {
		t.Fatalf("OpenImage: %v", err)
	}
	defer b.Close()
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("served bytes: got %d bytes, %v, want the %d checked", len(got), err, len(want))
	}
}

// TestClaimReadsNoBytes: on the embedded default the PUT checks the image
// and stores the copy to serve (metadata stripped), and the claim only
// moves the upload's row: it opens and stores no blob.
func TestClaimReadsNoBytes(t *testing.T) {
	f := newFlowFixture(t, true)
	body, stripped := pngWithText(t)
	up := carriedUpload(body)
	if err := f.put(t, up, body); err != nil {
		t.Fatalf("PUT: %v", err)
	}
	opens, puts := f.blobs.opens.Load(), f.blobs.puts.Load()
	img, err := f.svc.Uploads.Claim(t.Context(), up.Token, "10016", 0)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	if got := f.blobs.opens.Load() - opens; got != 0 {
		t.Errorf("claim opened %d blobs, want 0", got)
	}
	if got := f.blobs.puts.Load() - puts; got != 0 {
		t.Errorf("claim stored %d blobs, want 0", got)
	}
	if img.Size != int64(len(stripped)) {
		t.Errorf("claimed size: got %d, want the stripped %d", img.Size, len(stripped))
	}
	f.checkServed(t, img, stripped)
	if again, err := f.svc.Uploads.Claim(t.Context(), up.Token, "10016", 0); err != nil || again != img {
		t.Errorf("claim again: got %+v, %v, want the same image", again, err)
	}
}

// TestReceiveFaults: a PUT whose storage fails answers a retryable code
// (never one that blames the image), stores nothing, and the same PUT
// succeeds once storage heals.
func TestReceiveFaults(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(f *flowFixture)
		want   api.Code
	}{
		{"blob store fails", func(f *flowFixture) { f.blobs.set(func(b *faultyBlobs) { b.putErr = errors.New("i/o error") }) }, api.CodeStorageUnavailable},
		{"blob store full", func(f *flowFixture) { f.blobs.set(func(b *faultyBlobs) { b.putErr = syscall.ENOSPC }) }, api.CodeInsufficientStorage},
		{"scratch full", func(f *flowFixture) { f.scratch.err = syscall.ENOSPC }, api.CodeInsufficientStorage},
		{"scratch fails", func(f *flowFixture) { f.scratch.err = syscall.EIO }, api.CodeStorageUnavailable},
		{"metadata store closed", func(f *flowFixture) { f.db.Close() }, api.CodeStorageUnavailable},
		// An error no store marked is no store's fault: a bug, never
		// passed off as a retryable 503.
		{"unmarked error", func(f *flowFixture) {
			f.blobs.set(func(b *faultyBlobs) { b.putErr, b.unmarked = errors.New("wiring bug"), true })
		}, api.CodeInternalError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlowFixture(t, true)
			body, _ := pngWithText(t)
			up := carriedUpload(body)
			tt.break_(f)
			err := f.put(t, up, body)
			if got := core.ErrorCode(err); got != tt.want {
				t.Fatalf("PUT: got %v (%s), want %s", err, got, tt.want)
			}
			if tt.name == "metadata store closed" {
				return // the fixture cannot heal a closed database
			}
			f.checkNothingStored(t, up.Token)
			f.blobs.heal()
			f.scratch.err = nil
			if err := f.put(t, up, body); err != nil {
				t.Fatalf("PUT after healing: %v", err)
			}
			if _, err := f.svc.Uploads.Claim(t.Context(), up.Token, "10016", 0); err != nil {
				t.Errorf("claim after healing: %v", err)
			}
		})
	}
}

// TestReceiveBadBodies: what the client sent wrong is its own 4xx code,
// and nothing is stored.
func TestReceiveBadBodies(t *testing.T) {
	body, _ := pngWithText(t)
	corrupt := bytes.Clone(body)
	corrupt[len(corrupt)-5] ^= 0xff // the IEND chunk's CRC
	tests := []struct {
		name          string
		body          io.Reader
		contentLength int64
		want          api.Code
	}{
		{"short", bytes.NewReader(body[:len(body)-10]), -1, api.CodeIncompleteBody},
		{"long", io.MultiReader(bytes.NewReader(body), bytes.NewReader([]byte("extra"))), -1, api.CodePayloadTooLarge},
		{"cut off", io.MultiReader(bytes.NewReader(body[:200]), iotestErr("connection reset by peer")), -1, api.CodeIncompleteBody},
		{"corrupt", bytes.NewReader(corrupt), int64(len(corrupt)), api.CodeInvalidImage},
		{"not a PNG", bytes.NewReader(append([]byte("GIF89a"), body[6:]...)), int64(len(body)), api.CodeContentMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlowFixture(t, true)
			up := carriedUpload(body)
			err := f.svc.Uploads.ReceiveUpload(t.Context(), up, tt.contentLength, tt.body)
			if got := core.ErrorCode(err); got != tt.want {
				t.Errorf("PUT: got %v (%s), want %s", err, got, tt.want)
			}
			f.checkNothingStored(t, up.Token)
		})
	}
}

// iotestErr is a reader failing at once with msg.
type iotestErr string

func (e iotestErr) Read([]byte) (int, error) { return 0, errors.New(string(e)) }

// TestClaimStagedFaults: with an object store the claim reads the staged
// bytes; when the store fails or cuts a read short, the claim answers a
// retryable code, never one that blames the image, and the same claim
// succeeds once the store heals.
func TestClaimStagedFaults(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(b *faultyBlobs)
		want   api.Code
	}{
		{"open fails", func(b *faultyBlobs) { b.openErr = errors.New("connection refused") }, api.CodeStorageUnavailable},
		{"read cut off", func(b *faultyBlobs) { b.readAfter, b.readErr = 100, io.ErrUnexpectedEOF }, api.CodeStorageUnavailable},
		{"read reset at once", func(b *faultyBlobs) { b.readAfter, b.readErr = 0, errors.New("connection reset by peer") }, api.CodeStorageUnavailable},
		{"object shorter than said", func(b *faultyBlobs) { b.readAfter, b.readErr = 300, io.EOF }, api.CodeStorageUnavailable},
		{"store of the copy fails", func(b *faultyBlobs) { b.putErr = errors.New("503 SlowDown") }, api.CodeStorageUnavailable},
		{"store of the copy full", func(b *faultyBlobs) { b.putErr = syscall.ENOSPC }, api.CodeInsufficientStorage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlowFixture(t, false)
			body, stripped := pngWithText(t)
			token := f.stage(t, body)
			f.blobs.set(tt.break_)
			_, err := f.svc.Uploads.Claim(t.Context(), token, "10016", 0)
			if got := core.ErrorCode(err); got != tt.want {
				t.Fatalf("claim: got %v (%s), want %s", err, got, tt.want)
			}
			f.blobs.heal()
			img, err := f.svc.Uploads.Claim(t.Context(), token, "10016", 0)
			if err != nil {
				t.Fatalf("claim after healing: %v", err)
			}
			f.checkServed(t, img, stripped)
		})
	}
}

// TestClaimStagedBadImage: a staged image that really is cut short is the
// image's fault: 422, as before.
func TestClaimStagedBadImage(t *testing.T) {
	f := newFlowFixture(t, false)
	body, _ := pngWithText(t)
	cut := body[:len(body)-20]
	token := f.stage(t, cut)
	if _, err := f.svc.Uploads.Claim(t.Context(), token, "10016", 0); core.ErrorCode(err) != api.CodeTruncatedImage {
		t.Errorf("claim of a truncated PNG: got %v, want %s", err, api.CodeTruncatedImage)
	}
}

// TestReceiveConcurrentPUTs: PUTs of one URL at once store one copy: one
// gets nil, the others AlreadyUploaded, and only the winner's copy stays.
func TestReceiveConcurrentPUTs(t *testing.T) {
	f := newFlowFixture(t, true)
	body, stripped := pngWithText(t)
	up := carriedUpload(body)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f.put(t, up, body) })
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch core.ErrorCode(err) {
		case api.CodeInternalError:
			if err == nil {
				ok++
				continue
			}
			t.Errorf("PUT %d: got %v", i, err)
		case api.CodeAlreadyUploaded:
		default:
			t.Errorf("PUT %d: got %v, want nil or AlreadyUploaded", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("PUTs: got %d successes, want 1", ok)
	}
	img, err := f.svc.Uploads.Claim(t.Context(), up.Token, "10016", 0)
	if err != nil {
		t.Fatal(err)
	}
	f.checkServed(t, img, stripped)
	var keys []string
	f.disk.List(t.Context(), "images/", func(k string, _ time.Time) error { keys = append(keys, k); return nil })
	if len(keys) != 1 || keys[0] != core.ImageKey(img.ID) {
		t.Errorf("images/: got %q, want only %s", keys, core.ImageKey(img.ID))
	}
}

// pngChunk is a PNG chunk of type typ holding data, with its CRC.
func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(append(c, typ...), data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// pngWithText is a valid PNG with a tEXt chunk, which stripping removes,
// and the bytes served for it.
func pngWithText(t *testing.T) (body, stripped []byte) {
	t.Helper()
	var buf bytes.Buffer
	m := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range m.Pix {
		m.Pix[i] = byte(i * 7)
	}
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	stripped = buf.Bytes()
	// A tEXt chunk after the signature and IHDR (8 + 25 bytes).
	chunk := pngChunk("tEXt", []byte("Comment\x00taken at home"))
	body = append(append(bytes.Clone(stripped[:33]), chunk...), stripped[33:]...)
	return body, stripped
}

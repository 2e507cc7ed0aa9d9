package core

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func encode(t *testing.T, enc func(io.Writer, image.Image) error, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := enc(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// webpLossless is the header of a VP8L WebP of w×h, enough for DecodeConfig.
func webpLossless(w, h int) []byte {
	bits := uint32(w-1) | uint32(h-1)<<14
	chunk := append([]byte{0x2f}, binary.LittleEndian.AppendUint32(nil, bits)...)
	chunk = append(chunk, 0, 0, 0)
	b := []byte("RIFF")
	b = binary.LittleEndian.AppendUint32(b, uint32(4+8+len(chunk)))
	b = append(b, "WEBPVP8L"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(chunk)))
	return append(b, chunk...)
}

func TestCheckImage(t *testing.T) {
	jpg := encode(t, func(w io.Writer, m image.Image) error { return jpeg.Encode(w, m, nil) }, 30, 20)
	pngb := encode(t, png.Encode, 30, 20)
	gifb := encode(t, func(w io.Writer, m image.Image) error { return gif.Encode(w, m, nil) }, 30, 20)
	webpb := webpLossless(30, 20)
	tests := []struct {
		name, contentType string
		data              []byte
		want              Code // "" = accepted as 30x20
	}{
		{"jpeg", "image/jpeg", jpg, ""},
		{"png", "image/png", pngb, ""},
		{"gif", "image/gif", gifb, ""},
		{"webp", "image/webp", webpb, ""},
		{"png declared jpeg", "image/jpeg", pngb, CodeContentMismatch},
		{"jpeg declared png", "image/png", jpg, CodeContentMismatch},
		{"gif declared webp", "image/webp", gifb, CodeContentMismatch},
		{"webp declared gif", "image/gif", webpb, CodeContentMismatch},
		{"html declared jpeg", "image/jpeg", []byte("<!doctype html><script>alert(1)</script>"), CodeContentMismatch},
		{"svg declared png", "image/png", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), CodeContentMismatch},
		{"empty", "image/jpeg", nil, CodeContentMismatch},
		{"jpeg truncated in header", "image/jpeg", jpg[:10], CodeInvalidImage},
		{"png truncated in header", "image/png", pngb[:20], CodeInvalidImage},
		{"gif header only", "image/gif", []byte("GIF89a"), CodeInvalidImage},
		{"riff but not webp", "image/webp", append([]byte("RIFF\x00\x00\x00\x00WAVE"), make([]byte, 20)...), CodeContentMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := checkImage(bytes.NewReader(tt.data), tt.contentType)
			if got := codeOf(err); got != tt.want {
				t.Fatalf("checkImage: got code %q (err %v), want %q", got, err, tt.want)
			}
			if tt.want == "" && (cfg.Width != 30 || cfg.Height != 20) {
				t.Errorf("size: got %dx%d, want 30x20", cfg.Width, cfg.Height)
			}
		})
	}
}

func codeOf(err error) Code {
	if err == nil {
		return ""
	}
	return ErrorCode(err)
}

func TestExactReader(t *testing.T) {
	tests := []struct {
		name string
		r    io.Reader
		want Code
	}{
		{"exact", strings.NewReader("12345"), ""},
		{"long", strings.NewReader("123456"), CodePayloadTooLarge},
		{"short", strings.NewReader("1234"), CodeIncompleteBody},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader("12345")), ""},
		{"broken", iotest.ErrReader(errors.New("connection reset")), CodeIncompleteBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := io.ReadAll(&exactReader{r: io.LimitReader(tt.r, 6), want: 5})
			if got := codeOf(err); got != tt.want {
				t.Fatalf("got %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero value means defaults", Config{}, true},
		{"negative size", Config{MaxFileSize: -1}, false},
		{"sub-second ttl", Config{UploadURLTTL: time.Millisecond}, false},
		{"ttl over 7 days", Config{UploadURLTTL: 8 * 24 * time.Hour, ClaimWindow: 9 * 24 * time.Hour}, false},
		{"window shorter than ttl", Config{UploadURLTTL: 2 * time.Hour, ClaimWindow: time.Hour}, false},
		{"unknown type", Config{ContentTypes: []string{"image/svg+xml"}}, false},
		{"subset of types", Config{ContentTypes: []string{"image/png"}}, true},
		{"negative orphan grace", Config{OrphanGrace: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.withDefaults()
			if (err == nil) != tt.ok {
				t.Fatalf("withDefaults: got err %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && (got.MaxFileSize == 0 || got.UploadURLTTL == 0 || got.ClaimWindow == 0 || len(got.ContentTypes) == 0) {
				t.Errorf("withDefaults left zero fields: %+v", got)
			}
		})
	}
}

func TestIDSyntax(t *testing.T) {
	for _, tt := range []struct {
		s          string
		token, img bool
	}{
		{"01GC9JEN2X052BAKW905PH9C36", true, false},
		{"01gc9jen2x052bakw905ph9c36", false, false},
		{"01GC9JEN2X052BAKW905PH9C3", false, false},
		{"81TKxGEqVJruMIz7RCN8JA", false, true},
		{"81TKxGEqVJruMIz7RCN8JB", false, false}, // non-zero padding bits
		{"81TKxGEqVJruMIz7RCN8J/", false, false},
		{"", false, false},
	} {
		if got := ValidToken(tt.s); got != tt.token {
			t.Errorf("ValidToken(%q): got %v, want %v", tt.s, got, tt.token)
		}
		if got := ValidImageID(tt.s); got != tt.img {
			t.Errorf("ValidImageID(%q): got %v, want %v", tt.s, got, tt.img)
		}
	}
}

func TestErrorIs(t *testing.T) {
	err := errors.Join(errors.New("x"), &Error{Code: CodeNotFound, Err: io.EOF})
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrExist) {
		t.Errorf("errors.Is by code: got NotFound=%v Exist=%v, want true, false", errors.Is(err, ErrNotFound), errors.Is(err, ErrExist))
	}
	if got := ErrorCode(errors.New("plain")); got != CodeInternal {
		t.Errorf("ErrorCode(plain): got %s, want %s", got, CodeInternal)
	}
}

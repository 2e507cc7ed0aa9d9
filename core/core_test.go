package core

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"userimages/imagesafe"

	"github.com/userimages/userimages/client/api"
)

func TestEveryRefusalHasACode(t *testing.T) {
	for r := imagesafe.NotFormat; r <= imagesafe.ActiveContent; r++ {
		err := imageError(&imagesafe.Refusal{Reason: r, Detail: "x"}, "image/png")
		if c := ErrorCode(err); c == api.CodeInternalError || c == "" {
			t.Errorf("reason %d: got code %q, want a specific one", r, c)
		}
	}
	if err := imageError(io.ErrUnexpectedEOF, "image/png"); err != io.ErrUnexpectedEOF {
		t.Errorf("imageError(other): got %v, want it unchanged", err)
	}
}

func codeOf(err error) api.Code {
	if err == nil {
		return ""
	}
	return ErrorCode(err)
}

func TestExactReader(t *testing.T) {
	tests := []struct {
		name string
		r    io.Reader
		want api.Code
	}{
		{"exact", strings.NewReader("12345"), ""},
		{"long", strings.NewReader("123456"), api.CodePayloadTooLarge},
		{"short", strings.NewReader("1234"), api.CodeIncompleteBody},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader("12345")), ""},
		{"broken", iotest.ErrReader(errors.New("connection reset")), api.CodeIncompleteBody},
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
		{"kms encryption", Config{ServerSideEncryption: "aws:kms"}, true},
		{"no encryption header", Config{ServerSideEncryption: "none"}, true},
		{"unknown encryption", Config{ServerSideEncryption: "AES128"}, false},
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

func TestUploadHeaders(t *testing.T) {
	for _, tt := range []struct {
		sse, want string
	}{
		{"", "AES256"},
		{"aws:kms", "aws:kms"},
		{"none", ""},
	} {
		cfg, err := Config{ServerSideEncryption: tt.sse}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		h := (&Uploads{cfg: cfg}).uploadHeaders("01GC9JEN2X052BAKW905PH9C36.jpeg", "image/jpeg")
		if got := h["X-Amz-Server-Side-Encryption"]; got != tt.want {
			t.Errorf("ServerSideEncryption %q: got header %q, want %q", tt.sse, got, tt.want)
		}
		if got, want := h["Content-Disposition"], `attachment; filename="01GC9JEN2X052BAKW905PH9C36.jpeg"`; got != want {
			t.Errorf("Content-Disposition: got %q, want %q", got, want)
		}
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

func TestErrorCodes(t *testing.T) {
	wrapped := fmt.Errorf("claim x: %w", &Error{Code: api.CodeTokenExpired, Err: io.EOF})
	if got := ErrorCode(wrapped); got != api.CodeTokenExpired {
		t.Errorf("ErrorCode(wrapped): got %s, want %s", got, api.CodeTokenExpired)
	}
	if !errors.Is(wrapped, io.EOF) {
		t.Error("errors.Is does not reach the cause")
	}
	if got := ErrorCode(fmt.Errorf("open: %w", ErrNotFound)); got != api.CodeInternalError {
		t.Errorf("ErrorCode(store not-found): got %s, want %s (unexpected store errors are internal)", got, api.CodeInternalError)
	}
}

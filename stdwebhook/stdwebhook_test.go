package stdwebhook_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"userimages/stdwebhook"
)

// The specification's published test vector (spec/standard-webhooks.md,
// checked with Python's hmac, /work/shared/notes/facts.md).
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = 1614265330
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vecKey(t *testing.T) stdwebhook.Key {
	t.Helper()
	k, err := stdwebhook.ParseSecret(vecSecret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignTestVector(t *testing.T) {
	k := vecKey(t)
	if got := k.Sign(vecID, time.Unix(vecTS, 0), []byte(vecBody)); got != vecSig {
		t.Fatalf("Sign = %s, the specification says %s", got, vecSig)
	}
	if k.String() != vecSecret {
		t.Fatalf("String = %s", k.String())
	}
}

func TestVerifyTestVector(t *testing.T) {
	k := vecKey(t)
	at := time.Unix(vecTS, 0)
	other := "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	cases := []struct {
		name         string
		id, ts, sigs string
		body         string
		now          time.Time
		tolerance    time.Duration
		want         error
	}{
		{"exact", vecID, "1614265330", vecSig, vecBody, at, 0, nil},
		{"rotation: second of several", vecID, "1614265330", other + " v2,xyz " + vecSig, vecBody, at, 0, nil},
		{"within tolerance", vecID, "1614265330", vecSig, vecBody, at.Add(4 * time.Minute), 0, nil},
		{"too old", vecID, "1614265330", vecSig, vecBody, at.Add(6 * time.Minute), 0, stdwebhook.ErrTimestamp},
		{"from the future", vecID, "1614265330", vecSig, vecBody, at.Add(-6 * time.Minute), 0, stdwebhook.ErrTimestamp},
		{"narrow tolerance", vecID, "1614265330", vecSig, vecBody, at.Add(2 * time.Second), time.Second, stdwebhook.ErrTimestamp},
		{"body changed", vecID, "1614265330", vecSig, `{"test": 2432232315}`, at, 0, stdwebhook.ErrSignature},
		{"id changed", "msg_other", "1614265330", vecSig, vecBody, at, 0, stdwebhook.ErrSignature},
		{"timestamp changed", vecID, "1614265331", vecSig, vecBody, at, 0, stdwebhook.ErrSignature},
		{"only another signature", vecID, "1614265330", other, vecBody, at, 0, stdwebhook.ErrSignature},
		{"no v1 prefix", vecID, "1614265330", strings.TrimPrefix(vecSig, "v1,"), vecBody, at, 0, stdwebhook.ErrSignature},
		{"missing id", "", "1614265330", vecSig, vecBody, at, 0, stdwebhook.ErrHeaders},
		{"missing signature", vecID, "1614265330", "", vecBody, at, 0, stdwebhook.ErrHeaders},
		{"timestamp not seconds", vecID, "2021-02-25", vecSig, vecBody, at, 0, stdwebhook.ErrHeaders},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := k.Verify(c.id, c.ts, c.sigs, []byte(c.body), c.now, c.tolerance)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestParseSecret(t *testing.T) {
	for _, s := range []string{
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", // no prefix
		"whsec_not base64!",
		"whsec_" + "AAAA", // 3 bytes
		"whsec_" + strings.Repeat("A", 100),
	} {
		if _, err := stdwebhook.ParseSecret(s); !errors.Is(err, stdwebhook.ErrSecret) {
			t.Errorf("ParseSecret(%q) = %v, want ErrSecret", s, err)
		}
	}
}

func TestRoundTripHeaders(t *testing.T) {
	k, written, err := stdwebhook.NewSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := stdwebhook.ParseSecret(written)
	if err != nil || !bytes.Equal(k, k2) {
		t.Fatalf("ParseSecret(NewSecret) = %v, %v", k2, err)
	}
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"image.claimed"}`)
	h := http.Header{}
	k.SetHeaders(h, "msg_1", now, body)
	if err := k2.VerifyRequest(h, body, now.Add(time.Second), 0); err != nil {
		t.Fatal(err)
	}
	if err := vecKey(t).VerifyRequest(h, body, now, 0); !errors.Is(err, stdwebhook.ErrSignature) {
		t.Fatalf("another key verified: %v", err)
	}
}

package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"userimages/stdwebhook"
	"userimages/webhook"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// TestSend: the receiver gets the body signed by the secret (verified by
// stdwebhook as a receiver would), and its status is returned.
func TestSend(t *testing.T) {
	key, err := stdwebhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := key.VerifyRequest(r.Header, body, ts, time.Minute); err != nil || string(body) != `{"type":"image.claimed"}` {
			t.Errorf("the receiver got %q, %v", body, err)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	code, err := webhook.Sender{}.Send(t.Context(), srv.URL, secret, "msg_1", ts, []byte(`{"type":"image.claimed"}`))
	if err != nil || code != http.StatusAccepted {
		t.Errorf("Send: %d, %v; want 202", code, err)
	}
}

// TestSendRedirect: a redirect is the answer, not followed.
func TestSendRedirect(t *testing.T) {
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed: %s %s", r.Method, r.URL)
	}))
	defer elsewhere.Close()
	srv := httptest.NewServer(http.RedirectHandler(elsewhere.URL, http.StatusTemporaryRedirect))
	defer srv.Close()
	code, err := webhook.Sender{}.Send(t.Context(), srv.URL, secret, "msg_1", time.Now(), []byte(`{}`))
	if err != nil || code != http.StatusTemporaryRedirect {
		t.Errorf("Send: %d, %v; want 307, not followed", code, err)
	}
}

// TestSendEndlessAnswer: an answer that never ends is read no further
// than 64 kB: Send returns its status without waiting for the end.
func TestSendEndlessAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a bound for a broken Send, not a measure
	defer cancel()
	code, err := webhook.Sender{}.Send(ctx, srv.URL, secret, "msg_1", time.Now(), []byte(`{}`))
	if err != nil || code != http.StatusOK {
		t.Errorf("Send: %d, %v; want 200 once 64 kB are read", code, err)
	}
}

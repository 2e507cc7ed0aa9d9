package client_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/userimages/userimages/client"
	"github.com/userimages/userimages/client/api"
)

// The README quotes the bodies of these examples verbatim
// (e2e/readme_test.go's TestREADMEGoExamples checks it), so that what it
// shows compiles.

func Example() {
	ctx := context.Background()
	token := os.Getenv("USERIMAGES_TOKEN") // email/token:API_TOKEN's API_TOKEN
	c, err := client.New("http://127.0.0.1:8080", client.WithAPIToken("ann@example.com", token))
	if err != nil {
		fmt.Println(err)
		return
	}
	img, err := c.UploadFile(ctx, "photo.jpg", "10016", func(sent, total int64) { /* progress */ })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(img.Path) // /hc/user_images/<id>.jpeg, what goes into a post
}

func ExampleError() {
	c, err := client.New("http://127.0.0.1:8080")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.UploadFile(context.Background(), "photo.jpg", "10016", nil)
	var e *client.Error
	switch {
	case errors.As(err, &e) && e.Code == api.CodeBrandNotFound:
		fmt.Println("no brand 10016 on this server:", e.Detail)
	case errors.As(err, &e) && e.Code.NeedsNewUpload():
		fmt.Println("upload the file again:", e.Detail)
	case err != nil:
		fmt.Println(err) // a network error, a context error, or another *client.Error
	}
}

func ExampleImage_Srcset() {
	// An Image from Upload (or Measure) knows the picture's width when the
	// server says it: the srcset then lists no width the picture does not
	// have, and the picture itself at its own.
	img := client.Image{Path: "/hc/user_images/81TKxGEqVJruMIz7RCN8JA.jpeg", URL: "https://help.example.com/hc/user_images/81TKxGEqVJruMIz7RCN8JA.jpeg", Width: 500, Height: 375}
	fmt.Println(img.VariantURL(320, "webp"))
	fmt.Println(img.Srcset([]int{320, 640, 1280}))
	// Output:
	// https://help.example.com/hc/user_images/81TKxGEqVJruMIz7RCN8JA.jpeg?w=320&fm=webp
	// https://help.example.com/hc/user_images/81TKxGEqVJruMIz7RCN8JA.jpeg?w=320&auto=format 320w, https://help.example.com/hc/user_images/81TKxGEqVJruMIz7RCN8JA.jpeg 500w
}

// Example_claimHook is a host app's claim hook (serve --claim-hook URL,
// docs/claim-hook.md): it checks the Standard Webhooks signature and the
// timestamp, refuses uploads by user 13 and pictures over 1 MB, and reads
// the others' bytes for a classifier.
func Example_claimHook() {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(os.Getenv("USERIMAGES_CLAIM_HOOK_SECRET"), "whsec_"))
	if err != nil {
		log.Fatal(err)
	}
	// verify: one of the space-separated "v1,<base64>" signatures is the
	// HMAC-SHA256 of "id.timestamp.body", and the timestamp is recent.
	verify := func(h http.Header, body []byte) bool {
		id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
			return false
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		for _, sig := range strings.Fields(h.Get("webhook-signature")) {
			got, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "v1,"))
			if err == nil && strings.HasPrefix(sig, "v1,") && hmac.Equal(got, m.Sum(nil)) {
				return true
			}
		}
		return false
	}
	http.HandleFunc("POST /claim-hook", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var req api.ClaimHookRequest
		if !verify(r.Header, body) || json.Unmarshal(body, &req) != nil {
			http.Error(w, "bad request", http.StatusUnauthorized) // a non-2xx: the claim fails closed
			return
		}
		allow := true
		verdict := api.ClaimHookVerdict{Allow: &allow}
		switch d := req.Data; {
		case d.Uploader != nil && d.Uploader.UserID == 13:
			allow, verdict.Reason = false, "Your account may not post pictures."
		case d.Size > 1_000_000:
			allow, verdict.Reason = false, "Pictures here must be under 1 MB."
		default:
			res, err := http.Get(d.BytesURL) // exactly the bytes that would be published
			if err != nil || res.StatusCode != http.StatusOK {
				http.Error(w, "cannot read the image", http.StatusBadGateway)
				return
			}
			defer res.Body.Close()
			// ... give res.Body to a classifier, set allow and the reason ...
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(verdict)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:9000", nil))
}

// Example_webhookReceiver is a host app's webhook endpoint: it verifies
// each request's signature (Standard Webhooks) and handles each
// webhook-id once (docs/webhooks.md quotes it).
func Example_webhookReceiver() {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(os.Getenv("USERIMAGES_WEBHOOK_SECRET"), "whsec_"))
	if err != nil || len(key) == 0 {
		log.Fatal("USERIMAGES_WEBHOOK_SECRET: want the whsec_… secret webhook add printed")
	}
	// verify checks the Standard Webhooks signature of a request's body.
	verify := func(h http.Header, body []byte) bool {
		id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if id == "" || err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
			return false
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		want := m.Sum(nil)
		for _, sig := range strings.Fields(h.Get("webhook-signature")) {
			if b64, ok := strings.CutPrefix(sig, "v1,"); ok {
				if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
					return true
				}
			}
		}
		return false
	}
	var mu sync.Mutex
	seen := map[string]bool{} // webhook-ids handled: keep them in your database
	http.HandleFunc("POST /hooks/userimages", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || !verify(r.Header, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev api.WebhookEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		id := r.Header.Get("webhook-id")
		mu.Lock()
		defer mu.Unlock()
		if !seen[id] { // else a retry of one handled already
			log.Printf("%s %s %s", id, ev.Type, ev.Data.Path) // do the work, or queue it
			seen[id] = true
		}
		w.WriteHeader(http.StatusNoContent)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:9000", nil))
}

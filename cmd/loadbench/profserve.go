package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"userimages/core"
	"userimages/httpapi"
	"userimages/localdisk"
	"userimages/metrics"
	"userimages/selfsign"
	"userimages/sqlite"
)

// profserve runs the server of `userimages serve` on the embedded default,
// wired from the same packages with the same defaults as
// cmd/userimages/serve.go (JSON request log on stderr, metrics, no rate
// limits), under a CPU profile written when it stops. The userimages binary
// has no profiling endpoint, and the harness must not change the server,
// so this is how the load scenarios are profiled, in a process of its own
// (the client's work is not in the profile).
func profserve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("profserve", flag.ContinueOnError)
	cpuprofile := fs.String("cpuprofile", "", "write the CPU profile here when stopped")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	data := fs.String("data", "", "data directory")
	var brands []string
	fs.Func("brand", "brand id (repeatable)", func(s string) error { brands = append(brands, s); return nil })
	maxUploads := fs.Int("max-concurrent-uploads", httpapi.DefaultMaxConcurrentUploads, "as serve's")
	for _, n := range []string{"rate-limit-create", "rate-limit-put", "rate-limit-claim", "rate-limit-auth"} {
		fs.Func(n, "accepted for serve's command line; only off is supported", func(s string) error {
			if s != "off" {
				return fmt.Errorf("profserve runs without rate limits only")
			}
			return nil
		})
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile == "" || *data == "" {
		return fmt.Errorf("profserve: --cpuprofile and --data are required")
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return err
	}
	secret, err := secretOf(*data)
	if err != nil {
		return err
	}
	signer, err := selfsign.New(secret)
	if err != nil {
		return err
	}
	blobs, err := localdisk.Open(filepath.Join(*data, "blobs"))
	if err != nil {
		return err
	}
	db, err := sqlite.Open(ctx, filepath.Join(*data, "userimages.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	svc, err := core.New(core.Config{}, core.Deps{Meta: db, Blobs: blobs, Signer: signer, Log: log})
	if err != nil {
		return err
	}
	for _, b := range brands {
		if err := svc.AddBrand(ctx, b); err != nil {
			return err
		}
	}
	api, err := httpapi.New(svc, signer, httpapi.Config{
		Metrics:              metrics.New(),
		UploadPath:           selfsign.PathPrefix,
		MaxConcurrentUploads: *maxUploads,
		UploadTimeout:        httpapi.DefaultUploadTimeout,
	}, log, nil)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	f, err := os.Create(*cpuprofile)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go srv.Serve(ln)
	<-ctx.Done()
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(shut)
	pprof.StopCPUProfile()
	return f.Close()
}

// secretOf returns the signing secret kept in dir, making one if needed
// (not durably: profiling data directories are thrown away).
func secretOf(dir string) (string, error) {
	path := filepath.Join(dir, "signing-secret")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	var raw [32]byte
	rand.Read(raw[:])
	s := hex.EncodeToString(raw[:])
	return s, os.WriteFile(path, []byte(s+"\n"), 0o600)
}

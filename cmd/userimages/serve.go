package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"userimages/core"
	"userimages/httpapi"
	"userimages/selfsign"
)

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	data := dataFlag(fs)
	publicURL := fs.String("public-url", "", "scheme://host[:port] clients reach this server at (default: each request's Host)")
	var brands, origins, types listFlag
	fs.Var(&brands, "brand", "register a brand id (repeatable)")
	fs.Var(&origins, "cors-origin", `origin allowed to call from a browser (repeatable; default "*")`)
	fs.Var(&types, "content-type", "accepted content type (repeatable; default image/jpeg, image/png, image/gif, image/webp)")
	maxSize := fs.Int64("max-file-size", core.DefaultMaxFileSize, "largest accepted file_size in bytes")
	ttl := fs.Duration("upload-url-ttl", core.DefaultUploadURLTTL, "how long an upload URL accepts its PUT")
	window := fs.Duration("claim-window", core.DefaultClaimWindow, "how long an upload can be claimed before it is swept")
	sweepEvery := fs.Duration("sweep-interval", 10*time.Minute, "how often expired uploads are swept")
	shutdownGrace := fs.Duration("shutdown-timeout", 30*time.Second, "how long in-flight requests may finish after SIGINT/SIGTERM")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("serve: unexpected arguments %q", rest)
	}
	if *publicURL != "" {
		u, err := url.Parse(*publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("--public-url %q: want scheme://host[:port] with no path", *publicURL)
		}
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	st, err := openEmbedded(ctx, *data)
	if err != nil {
		return err
	}
	defer st.db.Close()
	svc, err := st.service(core.Config{MaxFileSize: *maxSize, ContentTypes: types, UploadURLTTL: *ttl, ClaimWindow: *window}, log)
	if err != nil {
		return err
	}
	for _, b := range brands {
		if err := svc.AddBrand(ctx, b); err != nil {
			return fmt.Errorf("--brand %s: %w", b, err)
		}
	}
	api := httpapi.New(svc, st.signer, httpapi.Config{PublicURL: *publicURL, CORSOrigins: origins, UploadPath: selfsign.PathPrefix}, log, nil)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	sweepCtx, stopSweeper := context.WithCancel(context.Background())
	defer stopSweeper()
	go svc.RunSweeper(sweepCtx, *sweepEvery, core.SweepOptions{Orphans: true})

	log.Info("listening", "addr", ln.Addr().String(), "data", *data, "brands", brands)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", shutdownGrace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), *shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// Command loadbench is the load harness of userimages: it starts our
// server and its peers (a no-op net/http handler, nginx, the Versity S3
// Gateway, libvips' vipsthumbnail) as separate processes, drives them with real HTTP on loopback
// for a bounded time, and reports req/s, MB/s, latency percentiles and the
// peak RSS of the process under load, each figure next to its peer's.
//
//	loadbench run -bin ./userimages [-scenarios create,get,put,flow,put256,scale,variant-get,variant-cold] [-vips vipsthumbnail] [-c 32] [-d 10s] [-json out.json]
//	loadbench noop -addr 127.0.0.1:PORT -size N     the no-op peer of create-upload
//	loadbench gofile -addr 127.0.0.1:PORT -root DIR  net/http's FileServer, the Go floor of the GETs
//
// scripts/bench.sh installs the peers, builds and runs everything; see
// BENCHMARKS.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command of args, writing to stdout and stderr; it returns
// the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprintln(stderr, "usage: loadbench run|noop|gofile [flags]")
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runCmd(ctx, args[1:], stdout, stderr)
	case "noop":
		err = noopCmd(ctx, args[1:], stderr)
	case "gofile":
		err = gofileCmd(ctx, args[1:], stderr)
	default:
		err = fmt.Errorf("unknown command %q: want run, noop or gofile", args[0])
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, "loadbench:", err)
		return 1
	}
	return 0
}

// noopCmd is the no-op peer of step 1.
func noopCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("noop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8081", "address to listen on")
	size := fs.Int("size", 400, "size of the answer's body in bytes (our server's step 1 answer's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	answer, err := noopAnswer(*size)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: *addr, Handler: noopHandler(answer)}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// gofileCmd serves a directory with net/http's FileServer and nothing
// else (no log, no metrics, no lookup): what net/http alone costs per GET,
// the floor under our server's GETs (see harness.againstNginx).
func gofileCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gofile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8082", "address to listen on")
	root := fs.String("root", ".", "the directory served")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv := &http.Server{Addr: *addr, Handler: http.FileServer(http.Dir(*root))}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

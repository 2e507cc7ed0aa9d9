// Command loadbench is the load harness of userimages: it starts our
// server and its peers (a no-op net/http handler, nginx, the Versity S3
// Gateway, libvips' vipsthumbnail) as separate processes, drives them with real HTTP on loopback
// for a bounded time, and reports req/s, MB/s, latency percentiles and the
// peak RSS of the process under load, each figure next to its peer's.
//
//	loadbench run -bin ./userimages [-scenarios create,get,put,flow,put256,scale,variant-get,variant-cold] [-vips vipsthumbnail] [-c 32] [-d 10s] [-json out.json]
//	loadbench noop -addr 127.0.0.1:PORT -size N     the no-op peer of create-upload
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
		fmt.Fprintln(stderr, "usage: loadbench run|noop [flags]")
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runCmd(ctx, args[1:], stdout, stderr)
	case "noop":
		err = noopCmd(ctx, args[1:], stderr)
	default:
		err = fmt.Errorf("unknown command %q: want run or noop", args[0])
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

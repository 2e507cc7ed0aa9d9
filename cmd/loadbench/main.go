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
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadbench run|noop [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(ctx, os.Args[2:])
	case "noop":
		err = noopCmd(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want run or noop", os.Args[1])
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// noopCmd is the no-op peer of step 1.
func noopCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("noop", flag.ContinueOnError)
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

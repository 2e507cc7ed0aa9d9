// Command userimages is a self-hosted, Zendesk-compatible user image upload
// service. Run `userimages serve` for the embedded default.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `userimages: self-hosted, Zendesk-compatible user image uploads

Usage:
  userimages serve [flags]                  run the server
  userimages gc [flags]                     delete expired uploads and orphaned bytes once
  userimages brand add [flags] ID...        register brands
  userimages brand ls [flags]               list brands
  userimages user add [flags] --email E     create a user (password from --password-stdin or prompt-free env USERIMAGES_PASSWORD)
  userimages user token [flags] --email E   create an API token for a user and print it
  userimages images ls [flags]              list images, newest first (--brand, --email, --anonymous, --limit)
  userimages images rm [flags] PATH...      take images down (--reason, --block refuses the same bytes again)
  userimages images log [flags]             the moderation audit log, newest first
  userimages migrate --from SRC --to DST     copy a deployment to other stores (e.g. embedded to PostgreSQL + S3), resumable
  userimages upload [flags] FILE...         upload images to --server for --brand (--user, --token or --bearer; --json)

Every flag can also be set by an environment variable USERIMAGES_<FLAG>, e.g.
USERIMAGES_DATA=/var/lib/userimages. Run a command with -h for its flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "userimages:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest)
	case "gc":
		return gc(ctx, rest)
	case "upload":
		return upload(ctx, rest)
	case "migrate":
		return migrateCmd(ctx, rest)
	case "brand", "user", "images":
		if len(rest) == 0 {
			return fmt.Errorf("%s: which subcommand? see userimages help", cmd)
		}
		return admin(ctx, cmd+" "+rest[0], rest[1:])
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	return fmt.Errorf("unknown command %q; see userimages help", cmd)
}

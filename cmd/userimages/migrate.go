package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"userimages/migrate"
)

// migrateCmd copies a deployment to other stores (see package migrate).
func migrateCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `userimages migrate: copy every image, user, brand and audit entry to other stores

  userimages migrate --from ./userimages-data --to 'postgres://…/db s3://bucket?endpoint=…'

--from and --to are each a data directory (the embedded default: its SQLite
database and blobs) or a quoted pair "DB BLOB" of the --db and --blob forms
of serve. Image paths stay the same. Each image's bytes are checked against
its SHA-256 and read back from the destination. Interrupted, the command is
resumed by running it again. Unclaimed uploads are not moved. Stop the
servers writing to the source first, or run it again after they stop.

Flags:
`)
		fs.PrintDefaults()
	}
	from := fs.String("from", "", "source: DATA_DIR or 'DB BLOB' (required)")
	to := fs.String("to", "", "destination: DATA_DIR or 'DB BLOB' (required)")
	pageSize := fs.Int("page-size", migrate.DefaultPageSize, "records read at a time")
	quiet := fs.Bool("quiet", false, "print only the final counts")
	verbose := fs.Bool("verbose", false, "print every record as it is copied or found there already")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("migrate: unexpected arguments %q", rest)
	}
	if *from == "" || *to == "" {
		return fmt.Errorf("migrate: give both --from and --to")
	}
	src, err := parseLocation(*from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	dst, err := parseLocation(*to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	if src.dbURL() == dst.dbURL() || src.blobURL() == dst.blobURL() {
		return fmt.Errorf("migrate: --from and --to must not share a store")
	}
	if !src.holdsData() {
		return fmt.Errorf("--from %s: no userimages data there", *from)
	}
	in, err := src.open(ctx)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	defer in.Close()
	out, err := dst.open(ctx)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer out.Close()

	report := progressPrinter(os.Stderr, *quiet, *verbose)
	counts, err := migrate.Run(ctx, migrate.Options{From: in.meta, FromBlobs: in.blobs, To: out.meta, ToBlobs: out.blobs,
		PageSize: *pageSize, Progress: report})
	for _, p := range counts {
		fmt.Printf("%-10s copied %d, already there %d%s\n", p.Kind, p.Copied, p.Skipped, megabytes(p.Bytes))
	}
	if err != nil {
		return fmt.Errorf("%w (run the same command again to resume)", err)
	}
	fmt.Println("migrate: done; every image's bytes match its sha256 at the destination")
	return nil
}

// parseLocation reads a data directory or a "DB BLOB" pair.
func parseLocation(s string) (location, error) {
	db, blob, pair := strings.Cut(strings.TrimSpace(s), " ")
	if !pair {
		return location{data: s}, nil
	}
	blob = strings.TrimSpace(blob)
	if db == "" || blob == "" || strings.Contains(blob, " ") {
		return location{}, fmt.Errorf("%q: want DATA_DIR or 'DB BLOB'", s)
	}
	// A migration signs no upload URLs, so a pair needs no data directory.
	return location{db: db, blob: blob}, nil
}

// progressPrinter reports progress to w at most every half second, or
// every record when verbose.
func progressPrinter(w io.Writer, quiet, verbose bool) func(migrate.Progress) {
	if quiet {
		return nil
	}
	var last time.Time
	return func(p migrate.Progress) {
		if verbose {
			what := "already there"
			if p.LastCopied {
				what = "copied"
			}
			fmt.Fprintf(w, "migrate: %s %s: %s\n", p.Kind, what, p.Last)
			return
		}
		if now := time.Now(); now.Sub(last) >= 500*time.Millisecond {
			last = now
			fmt.Fprintf(w, "migrate: %s: %d copied, %d already there%s\n", p.Kind, p.Copied, p.Skipped, megabytes(p.Bytes))
		}
	}
}

func megabytes(n int64) string {
	switch {
	case n == 0:
		return ""
	case n < 1e6:
		return fmt.Sprintf(", %.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf(", %.1f MB", float64(n)/1e6)
}

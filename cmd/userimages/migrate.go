package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"userimages/migrate"
)

// migrateCmd copies a deployment to other stores (see package migrate).
type migrateCmd struct {
	From     string `help:"Source: a data directory (the embedded default), or a quoted pair 'DB BLOB' of serve's --db and --blob forms." required:"" env:"USERIMAGES_FROM" placeholder:"DATA_DIR|'DB BLOB'"`
	To       string `help:"Destination, as --from, e.g. 'postgres://…/db s3://bucket?endpoint=…'. A database alone is refused: give its BLOB too." required:"" env:"USERIMAGES_TO" placeholder:"DATA_DIR|'DB BLOB'"`
	PageSize int    `name:"page-size" help:"Records read at a time." default:"${page_size}" env:"USERIMAGES_PAGE_SIZE"`
	Quiet    bool   `help:"Print only the final counts." env:"USERIMAGES_QUIET"`
	Verbose  bool   `help:"Print every record as it is copied or found there already." env:"USERIMAGES_VERBOSE"`
}

// Help is the long help of migrate.
func (c *migrateCmd) Help() string {
	return `Copies every image, user, brand and audit entry. Image paths stay the same.
Each image's bytes are checked against its SHA-256 and read back from the
destination. Interrupted, the command is resumed by running it again.
Unclaimed uploads are not moved. Stop the servers writing to the source
first, or run it again after they stop.

  userimages migrate --from ./userimages-data --to 'postgres://…/db s3://bucket?endpoint=…'`
}

func (c *migrateCmd) Run(ctx context.Context, std stdio) error {
	src, err := parseLocation("--from", c.From)
	if err != nil {
		return err
	}
	dst, err := parseLocation("--to", c.To)
	if err != nil {
		return err
	}
	if src.dbURL() == dst.dbURL() || src.blobURL() == dst.blobURL() {
		return fmt.Errorf("migrate: --from and --to must not share a store")
	}
	if !src.holdsData() {
		return fmt.Errorf("--from %s: no userimages data there", c.From)
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

	report := progressPrinter(std.err, "migrate", c.Quiet, c.Verbose)
	counts, err := migrate.Run(ctx, migrate.Options{From: in.meta, FromBlobs: in.blobs, To: out.meta, ToBlobs: out.blobs,
		PageSize: c.PageSize, Progress: report})
	for _, p := range counts {
		fmt.Fprintf(std.out, "%-10s copied %d, already there %d%s\n", p.Kind, p.Copied, p.Skipped, megabytes(p.Bytes))
	}
	if err != nil {
		return fmt.Errorf("%w (run the same command again to resume)", err)
	}
	fmt.Fprintln(std.out, "migrate: done; every image's bytes match its sha256 at the destination")
	return nil
}

// storeScheme matches the start of a --db or --blob address.
var storeScheme = regexp.MustCompile(`^(sqlite|file|s3|postgres|postgresql):`)

// parseLocation reads flag's value: a data directory or a "DB BLOB" pair.
// A single word that looks like a store's address is refused: it would be
// taken for a directory of that name (a database without its bucket).
func parseLocation(flag, s string) (location, error) {
	db, blob, pair := strings.Cut(strings.TrimSpace(s), " ")
	if !pair {
		if storeScheme.MatchString(s) || strings.Contains(s, "://") {
			return location{}, fmt.Errorf("%s %q: a store address alone is not a deployment; give the pair 'DB BLOB' in one quoted value, e.g. %s 'postgres://…/db s3://BUCKET?…', or a data directory",
				flag, redactedURL(s), flag)
		}
		return location{Data: s}, nil
	}
	blob = strings.TrimSpace(blob)
	if db == "" || blob == "" || strings.Contains(blob, " ") {
		return location{}, fmt.Errorf("%s %q: want DATA_DIR or 'DB BLOB'", flag, s)
	}
	if !storeScheme.MatchString(db) || strings.HasPrefix(db, "file:") || strings.HasPrefix(db, "s3:") {
		return location{}, fmt.Errorf("%s: the first of 'DB BLOB' must be sqlite:PATH or postgres://…, not %q", flag, redactedURL(db))
	}
	if !strings.HasPrefix(blob, "file:") && !strings.HasPrefix(blob, "s3://") {
		return location{}, fmt.Errorf("%s: the second of 'DB BLOB' must be file:DIR or s3://BUCKET?…, not %q", flag, blob)
	}
	// A migration signs no upload URLs, so a pair needs no data directory.
	return location{DB: db, Blob: blob}, nil
}

// progressPrinter reports the progress of command to w at most every half
// second, or every record when verbose.
func progressPrinter(w io.Writer, command string, quiet, verbose bool) func(migrate.Progress) {
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
			fmt.Fprintf(w, "%s: %s %s: %s\n", command, p.Kind, what, p.Last)
			return
		}
		if now := time.Now(); now.Sub(last) >= 500*time.Millisecond {
			last = now
			fmt.Fprintf(w, "%s: %s: %d copied, %d already there%s\n", command, p.Kind, p.Copied, p.Skipped, megabytes(p.Bytes))
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

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"userimages/backup"
	"userimages/core"
	"userimages/localdisk"
	"userimages/s3store"
	"userimages/sqlite"

	"golang.org/x/term"
)

// backupCmd backs up the embedded default (see package backup).
type backupCmd struct {
	Create backupCreateCmd `cmd:"" default:"withargs" help:"Back up the data directory to DEST (the default: userimages backup --to DEST)."`
	Verify backupVerifyCmd `cmd:"" help:"Check the newest backup at DEST against its hashes, without restoring it."`
}

// destHelp says where backups are kept: a directory or a bucket.
const destHelp = "Backup destination: a directory, or s3://BUCKET?endpoint=URL&region=R&path_style=true&prefix=P (as --blob), credentials from the AWS environment."

type backupCreateCmd struct {
	location
	To      string `help:"${backup_dest_help}" required:"" env:"USERIMAGES_BACKUP_TO" placeholder:"DIR|s3://…"`
	Keep    int    `help:"Keep only the newest N complete backups' snapshots (image bytes are shared and kept); 0 keeps all." default:"0" env:"USERIMAGES_BACKUP_KEEP" placeholder:"N"`
	Quiet   bool   `help:"No progress, even on a terminal: only the summary line and errors." env:"USERIMAGES_QUIET"`
	Verbose bool   `help:"Print every image as it is copied or found there already." env:"USERIMAGES_VERBOSE"`
}

// Help is the long help of backup.
func (c *backupCreateCmd) Help() string {
	return `Copies a consistent snapshot of the database (taken with VACUUM INTO while
the server runs), the signing secret, and the bytes of every image of the
snapshot that DEST does not hold yet, each checked against its SHA-256.
The backup's index is written last: an interrupted run leaves DEST usable
and the next run completes it. Safe to run from cron; the exit status is
non-zero on any failure.

  userimages backup --data /var/lib/userimages --to /mnt/backup/userimages --keep 14
  userimages backup verify /mnt/backup/userimages
  userimages restore --from /mnt/backup/userimages --data /var/lib/userimages-restored`
}

func (c *backupCreateCmd) Run(ctx context.Context, std stdio) error {
	if err := (backup.Options{Keep: c.Keep}).Validate(); err != nil {
		return flagError(err)
	}
	if !strings.HasPrefix(c.dbURL(), "sqlite:") || !strings.HasPrefix(c.blobURL(), "file:") {
		return fmt.Errorf("backup: only the embedded default (SQLite and file: bytes) is backed up here; see DEPLOYMENT.md for PostgreSQL and S3")
	}
	if err := checkLocation(std, c.location, false); err != nil {
		return err
	}
	db, err := sqlite.Open(ctx, strings.TrimPrefix(c.dbURL(), "sqlite:"))
	if err != nil {
		return fmt.Errorf("--db: %w", err)
	}
	defer db.Close()
	blobs, err := localdisk.Open(strings.TrimPrefix(c.blobURL(), "file:"))
	if err != nil {
		return fmt.Errorf("--blob: %w", err)
	}
	dest, err := openDest(ctx, "--to", c.To, true)
	if err != nil {
		return err
	}
	res, err := backup.Run(ctx, backup.Options{DB: db, Blobs: blobs, SecretPath: filepath.Join(c.Data, "signing-secret"),
		Dest: dest, Keep: c.Keep, Progress: progressPrinter(std.err, "backup", c.Quiet || !(c.Verbose || isTerminal(std.err)), c.Verbose)})
	if err != nil {
		return fmt.Errorf("backup: %w (run it again: what was copied is kept)", err)
	}
	p := res.Images
	fmt.Fprintf(std.out, "backup: %s complete: %d images, %d copied, %d already there%s; %d old backups pruned\n",
		res.Name, p.Copied+p.Skipped, p.Copied, p.Skipped, megabytes(p.Bytes), res.Pruned)
	return nil
}

type backupVerifyCmd struct {
	Dest  string `arg:"" name:"dest" help:"${backup_dest_help}" placeholder:"DIR|s3://…"`
	Quiet bool   `help:"No progress, even on a terminal." env:"USERIMAGES_QUIET"`
}

func (c *backupVerifyCmd) Run(ctx context.Context, std stdio) error {
	dest, err := openDest(ctx, "DEST", c.Dest, false)
	if err != nil {
		return err
	}
	name, n, err := backup.Verify(ctx, dest, progressPrinter(std.err, "verify", c.Quiet || !isTerminal(std.err), false))
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	fmt.Fprintf(std.out, "verify: %s is sound: snapshot, manifest and %d images match their sha256\n", name, n)
	return nil
}

type restoreCmd struct {
	From  string `help:"${backup_dest_help}" required:"" env:"USERIMAGES_BACKUP_FROM" placeholder:"DIR|s3://…"`
	Data  string `help:"The new data directory: must not exist or be empty." required:"" placeholder:"DIR"`
	Quiet bool   `help:"No progress, even on a terminal." env:"USERIMAGES_QUIET"`
}

// Help is the long help of restore.
func (c *restoreCmd) Help() string {
	return `Builds a data directory of the embedded default from the newest complete
backup at --from, checking every image against the backup's manifest. Start
the server on it with serve --data DIR. Images taken down after the backup
was made come back: take them down again (see docs/operating.md, "Backups").`
}

func (c *restoreCmd) Run(ctx context.Context, std stdio) error {
	src, err := openDest(ctx, "--from", c.From, false)
	if err != nil {
		return err
	}
	name, p, err := backup.Restore(ctx, src, c.Data, progressPrinter(std.err, "restore", c.Quiet || !isTerminal(std.err), false))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(std.out, "restore: %s restored to %s: %d images%s, each matching its sha256\n", name, c.Data, p.Copied, megabytes(p.Bytes))
	return nil
}

// openDest opens a backup destination. A directory is created when
// creating, else it must exist.
func openDest(ctx context.Context, flag, dest string, creating bool) (core.BlobStore, error) {
	if strings.HasPrefix(dest, "s3://") {
		s3, err := s3store.Open(ctx, dest)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		return s3, nil
	}
	if strings.Contains(dest, "://") {
		return nil, fmt.Errorf("%s %q: want a directory or s3://BUCKET?…", flag, redactedURL(dest))
	}
	if !creating {
		if _, err := os.Stat(dest); err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
	}
	d, err := localdisk.Open(dest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return d, nil
}

// isTerminal reports whether w is a terminal: progress is for people
// watching, not for cron's mail.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

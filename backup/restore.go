package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"userimages/core"
	"userimages/internal/durable"
	"userimages/internal/private"
	"userimages/localdisk"
	"userimages/migrate"
)

// Restore builds the data directory dir of the embedded default from the
// newest complete backup at src: dir/blobs with every image of its
// manifest, each checked against its SHA-256; dir/signing-secret (0600)
// when the backup holds one; and, last, dir/userimages.db, the snapshot,
// checked against its hash. dir must be empty or not exist. It returns the
// backup's name and the images restored.
func Restore(ctx context.Context, src core.BlobStore, dir string, progress func(Progress)) (_ string, _ Progress, err error) {
	p := Progress{Kind: "images"}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return "", p, fmt.Errorf("%s is not empty: restore builds a new data directory", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", p, err
	}
	name, idx, err := Latest(ctx, src)
	if err != nil {
		return "", p, err
	}
	// dir is new or empty: made private whatever it was.
	if err := private.MkdirAll(dir); err != nil {
		return name, p, err
	}
	if _, err := private.Correct(dir); err != nil {
		return name, p, err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w (remove %s, a partial restore, before trying again)", err, dir)
		}
	}()
	blobs, err := localdisk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		return name, p, err
	}
	err = eachEntry(ctx, src, name, idx, func(e Entry) error {
		written, err := migrate.CopyBytes(ctx, src, blobs, e.image())
		if err != nil {
			return err
		}
		p.Copied++
		p.Bytes += written
		p.Last, p.LastCopied = e.ID, true
		if progress != nil {
			progress(p)
		}
		return nil
	})
	if err != nil {
		return name, p, fmt.Errorf("%s: %w", name, err)
	}
	if idx.SigningSecret {
		b, err := src.Open(ctx, name+"/signing-secret")
		if err != nil {
			return name, p, fmt.Errorf("%s: signing secret: %w", name, err)
		}
		err = durable.WriteFile(filepath.Join(dir, "signing-secret"), b)
		b.Close()
		if err != nil {
			return name, p, fmt.Errorf("signing secret: %w", err)
		}
	}
	db := openFile(ctx, src, name+"/db/", idx.DB)
	defer db.Close()
	if err := durable.WriteFile(filepath.Join(dir, "userimages.db"), db); err != nil {
		return name, p, fmt.Errorf("%s: snapshot: %w", name, err)
	}
	return name, p, nil
}

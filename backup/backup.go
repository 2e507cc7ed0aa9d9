// Package backup copies a running embedded-default deployment (SQLite and
// image bytes on local disk) to a backup destination, a directory or a
// bucket seen as a core.BlobStore, and restores a data directory from it.
//
// A destination holds:
//
//	images/<id>                       every backed-up image's bytes, shared by all backups
//	backups/<stamp>/db/<part>         a consistent snapshot of the database (VACUUM INTO), in parts
//	backups/<stamp>/manifest/<part>   one JSON line per image of the snapshot: id, sha256, size
//	backups/<stamp>/signing-secret    the data directory's signing secret, when it has one
//	backups/<stamp>/index             the backup's index (JSON), written last
//
// Image bytes never change, so a backup copies only those not there yet.
// Every store write is atomic (localdisk: temporary file, fsync, rename;
// S3: one PutObject), and a backup without its index is incomplete and
// ignored: a run killed part way leaves the earlier backups usable, and the
// next run skips the images it copied and deletes what it left.
package backup

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"userimages/core"
	"userimages/internal/config"
	"userimages/internal/private"
	"userimages/migrate"
	"userimages/sqlite"
)

// partSize bounds each object of a snapshot or manifest: a bucket store
// buffers one Put in memory (s3store.MaxPutSize).
const partSize = 4 << 20

// Version is the layout version written in the index.
const Version = 1

// Index is a backup's index, in JSON.
type Index struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	// DB is the snapshot of the database, Manifest the list of its images.
	DB       File  `json:"db"`
	Manifest File  `json:"manifest"`
	Images   int64 `json:"images"`
	// SigningSecret: the backup holds the data directory's signing secret.
	SigningSecret bool `json:"signing_secret"`
}

// File is a file stored in parts under a prefix.
type File struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Parts  int    `json:"parts"`
}

// Entry is a manifest line: an image of the snapshot.
type Entry struct {
	ID     string `json:"id"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

func (e Entry) image() core.Image { return core.Image{ID: e.ID, SHA256: e.SHA256, Size: e.Size} }

// Progress counts the images handled so far.
type Progress = migrate.Progress

// Options say what to back up where.
type Options struct {
	// DB is the live database, Blobs its image bytes.
	DB    *sqlite.DB
	Blobs core.BlobStore
	// SecretPath is the signing secret's file; a missing one is skipped.
	SecretPath string
	Dest       core.BlobStore
	// Keep, when positive, deletes all but the newest Keep complete
	// backups' snapshots and manifests (image bytes stay).
	Keep int
	// Progress, when set, is called after each image.
	Progress func(Progress)
}

// ConfigField names a field of Options in the errors of Validate (see
// package internal/config).
type ConfigField string

// ConfigKeep is Options.Keep.
const ConfigKeep ConfigField = "Keep"

// Validate checks o's settings (not its stores); it is pure, and the
// error is a *config.FieldError.
func (o Options) Validate() error {
	if o.Keep < 0 {
		return config.Invalid(ConfigKeep, o.Keep, "must be 0 or more (0 keeps all)")
	}
	return nil
}

// Result says what a backup did.
type Result struct {
	Name   string // backups/<stamp>
	Images Progress
	Pruned int // complete backups deleted by Keep
}

const backupsPrefix = "backups/"

func indexKey(name string) string { return name + "/index" }

// Run makes a backup. Images taken down while it runs may be missing from
// the data directory: then it fails, and the next run, with a newer
// snapshot, does not need them.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	tmp, err := os.MkdirTemp("", "userimages-backup-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(tmp)
	start := time.Now().UTC()
	stamp := strings.Replace(start.Format("20060102T150405.000000000Z"), ".", "_", 1) // keys have no dots
	res := Result{Name: backupsPrefix + stamp, Images: Progress{Kind: "images"}}
	snapshot := filepath.Join(tmp, "userimages.db")
	if err := o.DB.Snapshot(ctx, snapshot); err != nil {
		return res, fmt.Errorf("snapshot: %w", err)
	}
	manifest, err := os.OpenFile(filepath.Join(tmp, "manifest"), os.O_RDWR|os.O_CREATE|os.O_EXCL, private.FileMode)
	if err != nil {
		return res, err
	}
	defer manifest.Close()
	n, err := copyImages(ctx, o, snapshot, manifest, &res.Images)
	if err != nil {
		return res, err
	}
	idx := Index{Version: Version, Created: start, Images: n}
	if idx.DB, err = putFileFrom(ctx, o.Dest, res.Name+"/db/", snapshot); err != nil {
		return res, fmt.Errorf("store snapshot: %w", err)
	}
	if idx.Manifest, err = putFileFrom(ctx, o.Dest, res.Name+"/manifest/", manifest.Name()); err != nil {
		return res, fmt.Errorf("store manifest: %w", err)
	}
	if secret, err := os.Open(o.SecretPath); err == nil {
		err = o.Dest.Put(ctx, res.Name+"/signing-secret", secret)
		secret.Close()
		if err != nil {
			return res, fmt.Errorf("store signing secret: %w", err)
		}
		idx.SigningSecret = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("signing secret: %w", err)
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return res, err
	}
	if err := o.Dest.Put(ctx, indexKey(res.Name), strings.NewReader(string(b)+"\n")); err != nil {
		return res, fmt.Errorf("store index: %w", err)
	}
	res.Pruned, err = prune(ctx, o.Dest, res.Name, o.Keep)
	return res, err
}

// copyImages lists the images of the snapshot into manifest and copies
// the bytes of those not at the destination yet, checking them against
// their SHA-256 as they stream. It returns how many images it listed.
func copyImages(ctx context.Context, o Options, snapshot string, manifest io.Writer, p *Progress) (int64, error) {
	snap, err := sqlite.Open(ctx, snapshot)
	if err != nil {
		return 0, fmt.Errorf("open snapshot: %w", err)
	}
	defer snap.Close()
	w := bufio.NewWriter(manifest)
	enc := json.NewEncoder(w)
	var n int64
	after := ""
	for {
		imgs, err := snap.ImagesAfter(ctx, after, migrate.DefaultPageSize)
		if err != nil {
			return n, fmt.Errorf("read snapshot: %w", err)
		}
		if len(imgs) == 0 {
			break
		}
		for _, img := range imgs {
			if err := enc.Encode(Entry{ID: img.ID, SHA256: img.SHA256, Size: img.Size}); err != nil {
				return n, err
			}
			n++
			if err := copyImage(ctx, o, img, p); err != nil {
				return n, fmt.Errorf("image %s: %w", core.Path(img), err)
			}
			if o.Progress != nil {
				o.Progress(*p)
			}
		}
		after = imgs[len(imgs)-1].ID
	}
	if err := w.Flush(); err != nil {
		return n, err
	}
	return n, snap.Close()
}

func copyImage(ctx context.Context, o Options, img core.Image, p *Progress) error {
	p.Last, p.LastCopied = core.Path(img), false
	if there, err := o.Dest.Open(ctx, core.ImageKey(img.ID)); err == nil {
		there.Close() // copied by an earlier backup, and checked then
		p.Skipped++
		return nil
	} else if !errors.Is(err, core.ErrNotFound) {
		return err
	}
	written, err := migrate.CopyBytes(ctx, o.Blobs, o.Dest, img)
	if errors.Is(err, core.ErrNotFound) {
		return fmt.Errorf("%w (taken down while the backup ran? run it again)", err)
	}
	if err != nil {
		return err
	}
	p.Copied++
	p.Bytes += written
	p.LastCopied = true
	return nil
}

// putFileFrom stores the file at path under prefix in parts of partSize,
// hashing it as it goes.
func putFileFrom(ctx context.Context, dest core.BlobStore, prefix, path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	r := io.TeeReader(f, h)
	var out File
	for {
		part := &countingReader{r: io.LimitReader(r, partSize)}
		if err := dest.Put(ctx, partKey(prefix, out.Parts), part); err != nil {
			return out, err
		}
		out.Size += part.n
		out.Parts++
		if part.n < partSize {
			break
		}
	}
	out.SHA256 = hex.EncodeToString(h.Sum(nil))
	return out, nil
}

func partKey(prefix string, i int) string { return fmt.Sprintf("%s%06d", prefix, i) }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// openFile streams the file stored under prefix, failing at its end unless
// it has f's size and SHA-256.
func openFile(ctx context.Context, src core.BlobStore, prefix string, f File) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		var err error
		for i := 0; i < f.Parts && err == nil; i++ {
			var b core.Blob
			if b, err = src.Open(ctx, partKey(prefix, i)); err == nil {
				_, err = io.Copy(pw, b)
				b.Close()
			}
		}
		pw.CloseWithError(err)
	}()
	return readCloser{migrate.Verified(pr, core.Image{Size: f.Size, SHA256: f.SHA256}), pr}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// backups lists the destination's backups, oldest first, and whether each
// is complete.
func backups(ctx context.Context, dest core.BlobStore) (names []string, complete map[string]bool, err error) {
	complete = map[string]bool{}
	err = dest.List(ctx, backupsPrefix, func(key string, _ time.Time) error {
		rest := strings.TrimPrefix(key, backupsPrefix)
		stamp, file, _ := strings.Cut(rest, "/")
		name := backupsPrefix + stamp
		if _, seen := complete[name]; !seen {
			complete[name] = false
			names = append(names, name)
		}
		if file == "index" {
			complete[name] = true
		}
		return nil
	})
	slices.Sort(names)
	return names, complete, err
}

// Latest returns the newest complete backup's name and index.
func Latest(ctx context.Context, dest core.BlobStore) (string, Index, error) {
	names, complete, err := backups(ctx, dest)
	if err != nil {
		return "", Index{}, fmt.Errorf("list backups: %w", err)
	}
	for _, name := range slices.Backward(names) {
		if complete[name] {
			idx, err := readIndex(ctx, dest, name)
			return name, idx, err
		}
	}
	return "", Index{}, errors.New("no complete backup there")
}

func readIndex(ctx context.Context, dest core.BlobStore, name string) (Index, error) {
	b, err := dest.Open(ctx, indexKey(name))
	if err != nil {
		return Index{}, fmt.Errorf("%s: %w", name, err)
	}
	defer b.Close()
	var idx Index
	if err := json.NewDecoder(b).Decode(&idx); err != nil {
		return idx, fmt.Errorf("%s: %w", indexKey(name), err)
	}
	if idx.Version != Version {
		return idx, fmt.Errorf("%s: layout version %d, this binary reads %d", name, idx.Version, Version)
	}
	return idx, nil
}

// prune deletes the incomplete backups older than current, left by runs
// that were interrupted, and, when keep is positive, all but the newest
// keep complete ones. It returns how many complete ones it deleted.
func prune(ctx context.Context, dest core.BlobStore, current string, keep int) (int, error) {
	names, complete, err := backups(ctx, dest)
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	kept, pruned := 0, 0
	for _, name := range slices.Backward(names) {
		switch {
		case name > current:
			continue // a newer run's
		case !complete[name]:
		case keep <= 0 || kept < keep:
			kept++
			continue
		default:
			pruned++
		}
		if err := deleteBackup(ctx, dest, name); err != nil {
			return pruned, fmt.Errorf("prune %s: %w", name, err)
		}
	}
	return pruned, nil
}

// deleteBackup deletes its index first, so that a backup half deleted is
// incomplete, then the rest.
func deleteBackup(ctx context.Context, dest core.BlobStore, name string) error {
	if err := dest.Delete(ctx, indexKey(name)); err != nil {
		return err
	}
	var keys []string
	if err := dest.List(ctx, name+"/", func(key string, _ time.Time) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := dest.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// eachEntry calls fn with every image of the backup's manifest, checking
// the manifest's own hash at its end.
func eachEntry(ctx context.Context, dest core.BlobStore, name string, idx Index, fn func(Entry) error) error {
	r := openFile(ctx, dest, name+"/manifest/", idx.Manifest)
	defer r.Close()
	dec := json.NewDecoder(bufio.NewReader(r))
	var n int64
	for {
		var e Entry
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		n++
		if err := fn(e); err != nil {
			return fmt.Errorf("image %s: %w", e.ID, err)
		}
	}
	if n != idx.Images {
		return fmt.Errorf("manifest: %d images, the index says %d", n, idx.Images)
	}
	return nil
}

// Verify checks the newest complete backup: its snapshot and manifest
// against their hashes, and every image's bytes against the manifest. It
// returns the backup's name and how many images it checked.
func Verify(ctx context.Context, dest core.BlobStore, progress func(Progress)) (string, int64, error) {
	name, idx, err := Latest(ctx, dest)
	if err != nil {
		return "", 0, err
	}
	r := openFile(ctx, dest, name+"/db/", idx.DB)
	_, err = io.Copy(io.Discard, r)
	r.Close()
	if err != nil {
		return name, 0, fmt.Errorf("%s: snapshot: %w", name, err)
	}
	p := Progress{Kind: "images"}
	err = eachEntry(ctx, dest, name, idx, func(e Entry) error {
		if err := migrate.CheckBytes(ctx, dest, e.image()); err != nil {
			return err
		}
		p.Skipped++
		p.Last = e.ID
		if progress != nil {
			progress(p)
		}
		return nil
	})
	if err != nil {
		return name, p.Skipped, fmt.Errorf("%s: %w", name, err)
	}
	return name, p.Skipped, nil
}

package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/userimages/userimages/client/api"

	"userimages/pdq"
)

// hashCmd is `userimages hash`: the PDQ hash of image files, printed as
// Meta's reference tool (pdq-photo-hasher) prints it, so that its output
// is a hash list `blocklist import` reads.
type hashCmd struct {
	Dihedral bool     `help:"Print the hashes of the eight rotations and mirrors on each line, as pdq-photo-hasher --pdqdih-across does: HASH×8,QUALITY,FILE."`
	Files    []string `arg:"" name:"file" help:"Image files (JPEG, PNG, GIF or WebP)."`
}

func (c *hashCmd) Run(ctx context.Context, std stdio) error {
	failed := 0
	for _, file := range c.Files {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		line, err := hashLine(file, c.Dihedral)
		if err != nil {
			failed++
			fmt.Fprintln(std.err, "userimages: hash:", err)
			continue
		}
		fmt.Fprintln(std.out, line)
	}
	if failed > 0 {
		return fmt.Errorf("hash: %d of %d files could not be hashed", failed, len(c.Files))
	}
	return nil
}

// hashLine returns the line printed for file: HASH,QUALITY,FILE, or the
// eight dihedral hashes in place of HASH.
func hashLine(file string, dihedral bool) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	f, ok := api.Detect(data)
	if !ok {
		return "", fmt.Errorf("%s: not a JPEG, PNG, GIF or WebP file", file)
	}
	d, err := pdq.File(data, f)
	if err != nil {
		return "", fmt.Errorf("%s: %v", file, err)
	}
	hashes := []string{d.Hash().String()}
	if dihedral {
		hashes = hashes[:0]
		for _, h := range d.Dihedral() {
			hashes = append(hashes, h.String())
		}
	}
	return fmt.Sprintf("%s,%d,%s", strings.Join(hashes, ","), d.Quality, file), nil
}

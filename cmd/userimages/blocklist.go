package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"userimages/core"
	"userimages/pdq"
)

// blocklistCmd is `userimages blocklist`: the perceptual hashes refused at
// the PUT, in lists: the takedowns' ("takedowns") and imported hash lists.
type blocklistCmd struct {
	Import blocklistImportCmd `cmd:"" help:"Block the PDQ hashes of a hash list file (one hash a line, as pdq-photo-hasher and userimages hash print them), all or nothing."`
	Ls     blocklistLsCmd     `cmd:"" help:"List the hash lists and their sizes."`
	Export blocklistExportCmd `cmd:"" help:"Print blocked hashes as a hash list, HASH,QUALITY a line."`
	Rm     blocklistRmCmd     `cmd:"" help:"Unblock the hashes of an imported list."`
}

type blocklistImportCmd struct {
	location
	Name   string `help:"Name of the list (default: the file's name without its extension)."`
	Reason string `help:"Why, for the audit log (e.g. where the list comes from)."`
	File   string `arg:"" name:"file" help:"The hash list: HASH[,QUALITY[,…]] a line (or pdq-photo-hasher --pdqdih-across's eight hashes), # comments."`
}

func (c *blocklistImportCmd) Run(ctx context.Context, std stdio) error {
	f, err := os.Open(c.File)
	if err != nil {
		return fmt.Errorf("blocklist import: %w", err)
	}
	defer f.Close()
	entries, err := pdq.ParseList(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("blocklist import %s: %w; nothing was imported", c.File, err)
	}
	name := c.Name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(c.File), filepath.Ext(c.File))
	}
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		start := time.Now()
		added, skipped, err := svc.Resemblance.ImportList(ctx, name, entries, "cli:"+loginName(), cmpOr(c.Reason, "imported from "+filepath.Base(c.File)))
		if err != nil {
			return fmt.Errorf("blocklist import %s: %w; nothing was imported", c.File, err)
		}
		fmt.Fprintf(std.out, "imported %d hashes as list %q in %s", added, name, time.Since(start).Round(time.Millisecond))
		if skipped > 0 {
			fmt.Fprintf(std.out, "; %d of quality under %d left out", skipped, pdq.ReliableQuality)
		}
		fmt.Fprintln(std.out)
		return nil
	})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type blocklistLsCmd struct {
	location
}

func (c *blocklistLsCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		lists, err := svc.Resemblance.Lists(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(std.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "LIST\tHASHES\tLAST ADDED")
		for _, l := range lists {
			fmt.Fprintf(w, "%s\t%d\t%s\n", l.Name, l.Hashes, l.At.Format(time.RFC3339))
		}
		return w.Flush()
	})
}

type blocklistExportCmd struct {
	location
	List string `help:"Only this list (default: every list, each after a # list: NAME line)."`
}

func (c *blocklistExportCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		w := bufio.NewWriter(std.out)
		list := "\x00"
		err := svc.Resemblance.ExportList(ctx, c.List, func(h core.BlockedHash) error {
			if h.List != list && c.List == "" {
				list = h.List
				fmt.Fprintf(w, "# list: %s\n", list)
			}
			if h.Quality < 0 {
				_, err := fmt.Fprintln(w, h.Hash)
				return err
			}
			_, err := fmt.Fprintf(w, "%s,%d\n", h.Hash, h.Quality)
			return err
		})
		if err != nil {
			return err
		}
		return w.Flush()
	})
}

type blocklistRmCmd struct {
	location
	Reason string `help:"Why, for the audit log." required:""`
	Name   string `arg:"" name:"list" help:"The list's name (blocklist ls)."`
}

func (c *blocklistRmCmd) Run(ctx context.Context, std stdio) error {
	if strings.TrimSpace(c.Reason) == "" {
		return fmt.Errorf("blocklist rm: --reason must say why")
	}
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		n, err := svc.Resemblance.RemoveList(ctx, c.Name, "cli:"+loginName(), c.Reason)
		if err != nil {
			return fmt.Errorf("blocklist rm %s: %w", c.Name, err)
		}
		fmt.Fprintf(std.out, "unblocked the %d hashes of list %q\n", n, c.Name)
		return nil
	})
}

package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"userimages/core"
)

// adminService opens the embedded stores for a one-shot command.
func adminService(ctx context.Context, data string) (*core.Service, func(), error) {
	st, err := openEmbedded(ctx, data)
	if err != nil {
		return nil, nil, err
	}
	svc, err := st.service(core.Config{}, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		st.db.Close()
		return nil, nil, err
	}
	return svc, func() { st.db.Close() }, nil
}

func gc(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gc", flag.ContinueOnError)
	data := dataFlag(fs)
	window := fs.Duration("claim-window", core.DefaultClaimWindow, "uploads older than this are expired")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	st, err := openEmbedded(ctx, *data)
	if err != nil {
		return err
	}
	defer st.db.Close()
	svc, err := st.service(core.Config{ClaimWindow: *window, UploadURLTTL: min(*window, core.DefaultUploadURLTTL)}, slog.Default())
	if err != nil {
		return err
	}
	stats, err := svc.Sweep(ctx, core.SweepOptions{Orphans: true})
	fmt.Printf("expired uploads: %d, staged orphans: %d, image orphans: %d\n", stats.ExpiredUploads, stats.StagedOrphans, stats.ImageOrphans)
	return err
}

func admin(ctx context.Context, cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	data := dataFlag(fs)
	email := fs.String("email", "", "the user's email (user commands; images ls: only this user's uploads)")
	isAdmin := fs.Bool("admin", false, "the user may delete images (user add)")
	brand := fs.String("brand", "", "only images of this brand (images ls)")
	anonymous := fs.Bool("anonymous", false, "only anonymous uploads (images ls)")
	limit := fs.Int("limit", 100, "at most this many rows (images ls, images log)")
	reason := fs.String("reason", "", "why the images are taken down, for the audit log (images rm)")
	block := fs.Bool("block", false, "refuse later uploads of the same bytes (images rm)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (user add); else USERIMAGES_PASSWORD")
	positional, err := parse(fs, args)
	if err != nil {
		return err
	}
	svc, closeFn, err := adminService(ctx, *data)
	if err != nil {
		return err
	}
	defer closeFn()
	switch cmd {
	case "brand add":
		if len(positional) == 0 {
			return fmt.Errorf("brand add: give one or more brand ids")
		}
		for _, id := range positional {
			if err := svc.AddBrand(ctx, id); err != nil {
				return err
			}
		}
		return nil
	case "brand ls":
		brands, err := svc.Brands(ctx)
		for _, b := range brands {
			fmt.Println(b)
		}
		return err
	case "user add":
		password := os.Getenv("USERIMAGES_PASSWORD")
		if *pwStdin {
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			if err != nil && line == "" {
				return fmt.Errorf("user add: read password: %w", err)
			}
			password = strings.TrimRight(line, "\r\n")
		}
		if password == "" {
			return fmt.Errorf("user add: give the password on standard input with --password-stdin, or in USERIMAGES_PASSWORD")
		}
		id, err := svc.AddUser(ctx, *email, password, *isAdmin)
		if err != nil {
			return err
		}
		fmt.Printf("user %d: %s\n", id, *email)
		return nil
	case "user token":
		token, err := svc.NewAPIToken(ctx, *email)
		if err != nil {
			return err
		}
		fmt.Println(token)
		return nil
	case "images ls":
		f := core.ImageFilter{BrandID: *brand, Anonymous: *anonymous, Limit: *limit}
		if *email != "" {
			if f.UserID, err = svc.UserID(ctx, *email); err != nil {
				return err
			}
		}
		images, err := svc.ListImages(ctx, f)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "PATH\tBRAND\tSIZE\tCREATED\tUSER\tCLIENT")
		for _, img := range images {
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\t%s\n", core.Path(img), img.BrandID, img.Size,
				img.CreatedAt.Format(time.RFC3339), img.Uploader.UserID, img.Uploader.ClientAddr)
		}
		return w.Flush()
	case "images rm":
		if len(positional) == 0 {
			return fmt.Errorf("images rm: give one or more image paths")
		}
		by := "cli:" + loginName()
		for _, p := range positional {
			id, err := core.ParseImagePath(p)
			if err != nil {
				return err
			}
			img, err := svc.DeleteImage(ctx, id, by, *reason, *block)
			if err != nil {
				return fmt.Errorf("images rm %s: %w", p, err)
			}
			fmt.Println("removed", core.Path(img))
		}
		return nil
	case "images log":
		log, err := svc.Deletions(ctx, *limit)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "DELETED\tPATH\tBY\tBLOCKED\tREASON")
		for _, d := range log {
			fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", d.At.Format(time.RFC3339), core.Path(d.Image), d.By, d.Blocked, d.Reason)
		}
		return w.Flush()
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// loginName names the operator in the audit log.
func loginName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"userimages/core"

	"github.com/userimages/userimages/client/api"
)

// adminCommand is one admin subcommand: flags declares its flags on the
// set and returns what runs it once they are parsed.
type adminCommand struct {
	summary string
	// creates: the command may start a new data directory (to provision
	// brands and users before the first start); others need an existing one.
	creates bool
	flags   func(fs *flag.FlagSet) func(ctx context.Context, svc *core.Service, args []string) error
}

var adminCommands = map[string]adminCommand{
	"brand add": {"register brands: brand add ID...", true, func(fs *flag.FlagSet) func(context.Context, *core.Service, []string) error {
		return func(ctx context.Context, svc *core.Service, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("brand add: give one or more brand ids")
			}
			for _, id := range args {
				if err := svc.AddBrand(ctx, id); err != nil {
					return err
				}
			}
			return nil
		}
	}},
	"brand ls": {"list brands", false, func(fs *flag.FlagSet) func(context.Context, *core.Service, []string) error {
		return func(ctx context.Context, svc *core.Service, _ []string) error {
			brands, err := svc.Brands(ctx)
			for _, b := range brands {
				fmt.Println(b)
			}
			return err
		}
	}},
	"user add": {"create a user", true, func(fs *flag.FlagSet) func(context.Context, *core.Service, []string) error {
		email := fs.String("email", "", "the user's email (required)")
		isAdmin := fs.Bool("admin", false, "the user may delete images")
		pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input; else USERIMAGES_PASSWORD")
		return func(ctx context.Context, svc *core.Service, _ []string) error {
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
		}
	}},
	"user token": {"create an API token for a user and print it (shown once)", false, func(fs *flag.FlagSet) func(context.Context, *core.Service, []string) error {
		email := fs.String("email", "", "the user's email (required)")
		return func(ctx context.Context, svc *core.Service, _ []string) error {
			token, err := svc.NewAPIToken(ctx, *email)
			if err != nil {
				return err
			}
			fmt.Println(token)
			return nil
		}
	}},
	"images ls": {"list images, newest first", false, func(fs *flag.FlagSet) func(context.Context, *core.Service, []string) error {
		brand := fs.String("brand", "", "only images of this brand")
		email := fs.String("email", "", "only images uploaded by this user")
		anonymous := fs.Bool("anonymous", false, "only anonymous uploads")
		limit := fs.Int("limit", 100, "at most this many images")
		return func(ctx context.Context, svc *core.Service, _ []string) error {
			f := core.ImageFilter{BrandID: *brand, Anonymous: *anonymous, Limit: *limit}
			if *email != "" {
				var err error
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
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", core.Path(img), img.BrandID, img.Size,
					img.CreatedAt.Format(time.RFC3339), uploaderName(ctx, svc, img.Uploader.UserID), img.Uploader.ClientAddr)
			}
			return w.Flush()
		}
	}},
	"images rm": {"take images down: images rm PATH...", false, func(fs *flag.FlagSet) func(context.Context, *core.Service, []string) error {
		reason := fs.String("reason", "", "why, for the audit log (required)")
		block := fs.Bool("block", false, "refuse later uploads of the same bytes")
		return func(ctx context.Context, svc *core.Service, args []string) error {
			if len(args) == 0 || strings.TrimSpace(*reason) == "" {
				return fmt.Errorf("images rm: give --reason and one or more image paths")
			}
			by := "cli:" + loginName()
			for _, p := range args {
				id, err := core.ParseImagePath(p)
				if err != nil {
					return err
				}
				img, err := svc.DeleteImage(ctx, id, by, *reason, *block)
				if core.ErrorCode(err) == api.CodeNotFound {
					return fmt.Errorf("images rm %s: no such image (already removed?)", p)
				}
				if err != nil {
					return fmt.Errorf("images rm %s: %w", p, err)
				}
				fmt.Println("removed", core.Path(img))
			}
			return nil
		}
	}},
	"images log": {"the moderation audit log, newest first", false, func(fs *flag.FlagSet) func(context.Context, *core.Service, []string) error {
		limit := fs.Int("limit", 100, "at most this many entries")
		return func(ctx context.Context, svc *core.Service, _ []string) error {
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
	}},
}

// admin runs an admin subcommand on an existing data directory.
func admin(ctx context.Context, name string, args []string) error {
	c, ok := adminCommands[name]
	if !ok {
		return fmt.Errorf("unknown command %q; see userimages help", name)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "userimages %s: %s\n\nFlags:\n", name, c.summary)
		fs.PrintDefaults()
	}
	where := locationFlags(fs)
	run := c.flags(fs)
	positional, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := checkLocation(*where, c.creates); err != nil {
		return err
	}
	svc, closeFn, err := adminService(ctx, *where)
	if err != nil {
		return err
	}
	defer closeFn()
	return run(ctx, svc, positional)
}

// checkLocation refuses an embedded database that does not exist, which is
// almost always a wrong --data: working on a new empty one would hide that.
// When creating is allowed it says so instead.
func checkLocation(where location, creating bool) error {
	if where.holdsData() {
		return nil
	}
	data := where.data
	abs, _ := filepath.Abs(data)
	if creating {
		fmt.Fprintf(os.Stderr, "userimages: starting a new data directory %s (the server must use the same --data)\n", abs)
		return nil
	}
	return fmt.Errorf("no userimages data in %s: give the server's --data (or USERIMAGES_DATA), or start `userimages serve --data %s` once to create it", abs, data)
}

// adminService opens the stores for a one-shot command.
func adminService(ctx context.Context, where location) (*core.Service, func(), error) {
	st, err := where.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	svc, err := st.service(core.Config{}, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return svc, st.Close, nil
}

func gc(ctx context.Context, args []string) error {
	set := flag.NewFlagSet("gc", flag.ContinueOnError)
	where := locationFlags(set)
	window := set.Duration("claim-window", 0, "the server's --claim-window (required): uploads older than this are deleted")
	if _, err := parse(set, args); err != nil {
		return err
	}
	if *window <= 0 {
		// A default could be shorter than the server's window and delete
		// uploads the server would still accept.
		return fmt.Errorf("gc: give the server's --claim-window (or USERIMAGES_CLAIM_WINDOW), e.g. --claim-window 24h")
	}
	if err := checkLocation(*where, false); err != nil {
		return err
	}
	st, err := where.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, err := st.service(core.Config{ClaimWindow: *window, UploadURLTTL: min(*window, core.DefaultUploadURLTTL)}, slog.Default())
	if err != nil {
		return err
	}
	stats, err := svc.Sweep(ctx, core.SweepOptions{Orphans: true})
	fmt.Printf("expired uploads: %d, staged orphans: %d, image orphans: %d\n", stats.ExpiredUploads, stats.StagedOrphans, stats.ImageOrphans)
	return err
}

// uploaderName names an image's uploader for listings: the user's email,
// or "anonymous".
func uploaderName(ctx context.Context, svc *core.Service, userID int64) string {
	if userID == 0 {
		return "anonymous"
	}
	if email, err := svc.UserEmail(ctx, userID); err == nil {
		return email
	}
	return fmt.Sprintf("user:%d", userID)
}

// loginName names the operator in the audit log.
func loginName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

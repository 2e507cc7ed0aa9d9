package main

import (
	"bufio"
	"context"
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

// brandCmd, userCmd and imagesCmd group the admin commands, which work on
// a deployment's stores directly (no server needs to run).
type brandCmd struct {
	Add brandAddCmd `cmd:"" help:"Register brands."`
	Ls  brandLsCmd  `cmd:"" help:"List brands."`
	Rm  brandRmCmd  `cmd:"" help:"Remove a brand: refused while it has images, unless --take-down."`
}

type brandRmCmd struct {
	location
	TakeDown bool   `name:"take-down" help:"Take the brand's images down first, each with an audit record (see images log)."`
	Reason   string `help:"Why, for the audit log of the images taken down." default:"brand removed"`
	ID       string `arg:"" name:"id" help:"The brand id."`
}

func (c *brandRmCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		n, err := svc.Moderation.DeleteBrand(ctx, c.ID, c.TakeDown, "cli:"+loginName(), c.Reason)
		if n > 0 {
			fmt.Fprintf(std.out, "took down %d images of brand %s\n", n, c.ID)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(std.out, "removed brand", c.ID)
		return nil
	})
}

type userCmd struct {
	Add      userAddCmd      `cmd:"" help:"Create a user (password from --password-stdin or USERIMAGES_PASSWORD)."`
	Ls       userLsCmd       `cmd:"" help:"List users."`
	Disable  userDisableCmd  `cmd:"" help:"Disable a user: its password and API tokens stop working on every instance at once; its images stay."`
	Enable   userEnableCmd   `cmd:"" help:"Enable a disabled user again: its password and API tokens work again."`
	Password userPasswordCmd `cmd:"" help:"Change a user's password (from --password-stdin or USERIMAGES_PASSWORD); the old one stops working at once."`
	Unlock   userUnlockCmd   `cmd:"" help:"End a user's wait after failed sign-ins (the throttle's count goes back to 0) on every instance at once."`
	Token    userTokensCmd   `cmd:"" help:"Create (the default), list and revoke API tokens."`
	Erase    userEraseCmd    `cmd:"" help:"Erase a user: disable the account, take down every image they uploaded (caches in front purged), revoke their API tokens and sessions, remove their reports' personal data; audited. Safe to run again (after a restore)."`
}

type userEraseCmd struct {
	location
	Email  string `help:"The user's email." required:""`
	Reason string `help:"Why, for the audit log." default:"erasure requested"`
}

func (c *userEraseCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		erased, err := svc.Erasure.EraseUser(ctx, c.Email, "cli:"+loginName(), c.Reason)
		for _, img := range erased.TakenDown {
			fmt.Fprintln(std.out, "took down", core.Path(img))
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(std.out, "erased %s (user %d): %d images taken down, API tokens and sessions revoked, account disabled, reports' personal data removed\n",
			c.Email, erased.User.ID, len(erased.TakenDown))
		return nil
	})
}

type userTokensCmd struct {
	Create userTokenCmd       `cmd:"" default:"withargs" help:"Create an API token for a user and print it (shown once): user token --email E."`
	Ls     userTokenLsCmd     `cmd:"" help:"List a user's API tokens: ids, created, last used (never the secret)."`
	Revoke userTokenRevokeCmd `cmd:"" help:"Revoke an API token by its id: requests with it get 401 on every instance at once."`
}

type userLsCmd struct {
	location
}

func (c *userLsCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		users, err := svc.Accounts.Users(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(std.out, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tEMAIL\tADMIN\tDISABLED\tCREATED\tHOST APP USER")
		for _, u := range users {
			// A host app's user: EMAIL is their key; the last column says
			// who they are (issuer, subject, and the token's claims).
			host := ""
			if u.Issuer != "" {
				host = fmt.Sprintf("%s %q %s", u.Issuer, u.Subject, strings.TrimSuffix(u.Label(), " ("+u.Email+")"))
			}
			fmt.Fprintf(w, "%d\t%s\t%v\t%v\t%s\t%s\n", u.ID, u.Email, u.Admin, u.Disabled, u.CreatedAt.Format(time.RFC3339), host)
		}
		return w.Flush()
	})
}

type userUnlockCmd struct {
	location
	Email string `help:"The user's email." required:""`
}

func (c *userUnlockCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		if err := svc.Accounts.Unlock(ctx, c.Email); err != nil {
			return err
		}
		fmt.Fprintln(std.out, "unlocked", c.Email)
		return nil
	})
}

type userDisableCmd struct {
	location
	Email string `help:"The user's email." required:""`
}

func (c *userDisableCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		if err := svc.Accounts.DisableUser(ctx, c.Email); err != nil {
			return err
		}
		fmt.Fprintln(std.out, "disabled", c.Email)
		return nil
	})
}

type userEnableCmd struct {
	location
	Email string `help:"The user's email." required:""`
}

func (c *userEnableCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		if err := svc.Accounts.EnableUser(ctx, c.Email); err != nil {
			return err
		}
		fmt.Fprintln(std.out, "enabled", c.Email)
		return nil
	})
}

type userPasswordCmd struct {
	location
	Email   string `help:"The user's email." required:""`
	PwStdin bool   `name:"password-stdin" help:"Read the new password from the first line of standard input; else from USERIMAGES_PASSWORD."`
}

func (c *userPasswordCmd) Run(ctx context.Context, std stdio) error {
	password, err := readPassword("user password", c.PwStdin, std)
	if err != nil {
		return err
	}
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		if err := svc.Accounts.SetPassword(ctx, c.Email, password); err != nil {
			return err
		}
		fmt.Fprintln(std.out, "changed the password of", c.Email)
		return nil
	})
}

// readPassword reads a password as user add and user password take it:
// the first line of standard input with --password-stdin, else
// USERIMAGES_PASSWORD.
func readPassword(cmd string, fromStdin bool, std stdio) (string, error) {
	password := os.Getenv("USERIMAGES_PASSWORD")
	if fromStdin {
		line, err := bufio.NewReader(std.in).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("%s: read password: %w", cmd, err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		return "", fmt.Errorf("%s: give the password on standard input with --password-stdin, or in USERIMAGES_PASSWORD", cmd)
	}
	return password, nil
}

type userTokenLsCmd struct {
	location
	Email string `help:"The user's email." required:""`
}

func (c *userTokenLsCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		tokens, err := svc.Accounts.APITokens(ctx, c.Email)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(std.out, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tCREATED\tLAST USED")
		for _, t := range tokens {
			last := "never"
			if !t.LastUsed.IsZero() {
				last = t.LastUsed.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", t.ID, t.CreatedAt.Format(time.RFC3339), last)
		}
		return w.Flush()
	})
}

type userTokenRevokeCmd struct {
	location
	ID string `arg:"" name:"id" help:"The token's id, as user token ls lists it (tok_ and 16 hex digits; no part of the token)."`
}

func (c *userTokenRevokeCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		if err := svc.Accounts.RevokeAPIToken(ctx, c.ID); err != nil {
			return err
		}
		fmt.Fprintln(std.out, "revoked", c.ID)
		return nil
	})
}

type imagesCmd struct {
	Ls  imagesLsCmd  `cmd:"" help:"List images, newest first."`
	Rm  imagesRmCmd  `cmd:"" help:"Take images down."`
	Log imagesLogCmd `cmd:"" help:"The moderation audit log, newest first."`
}

type brandAddCmd struct {
	location
	IDs []string `arg:"" name:"id" help:"Brand ids to register."`
}

func (c *brandAddCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, true, func(svc core.Services) error {
		for _, id := range c.IDs {
			if err := svc.Brands.AddBrand(ctx, id); err != nil {
				return err
			}
			fmt.Fprintln(std.out, "registered brand", id)
		}
		return nil
	})
}

type brandLsCmd struct {
	location
}

func (c *brandLsCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		brands, err := svc.Brands.Brands(ctx)
		for _, b := range brands {
			fmt.Fprintln(std.out, b)
		}
		return err
	})
}

type userAddCmd struct {
	location
	Email   string `help:"The user's email." required:""`
	Admin   bool   `help:"The user may delete images."`
	PwStdin bool   `name:"password-stdin" help:"Read the password from the first line of standard input; else from USERIMAGES_PASSWORD."`
}

func (c *userAddCmd) Run(ctx context.Context, std stdio) error {
	password, err := readPassword("user add", c.PwStdin, std)
	if err != nil {
		return err
	}
	return withService(ctx, std, c.location, true, func(svc core.Services) error {
		id, err := svc.Accounts.AddUser(ctx, c.Email, password, c.Admin)
		if err != nil {
			return err
		}
		fmt.Fprintf(std.out, "user %d: %s\n", id, c.Email)
		return nil
	})
}

type userTokenCmd struct {
	location
	Email string `help:"The user's email." required:""`
}

func (c *userTokenCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		token, err := svc.Accounts.NewAPIToken(ctx, c.Email)
		if err != nil {
			return err
		}
		fmt.Fprintln(std.out, token)
		return nil
	})
}

type imagesLsCmd struct {
	location
	Brand     string `help:"Only images of this brand." placeholder:"ID"`
	Email     string `help:"Only images uploaded by this user."`
	Anonymous bool   `help:"Only anonymous uploads."`
	Limit     int    `help:"At most this many images." default:"100"`
	PDQ       bool   `name:"pdq" help:"Add each image's perceptual hash, PDQ,QUALITY: '-' while it is not hashed yet (it is hashed after its upload while no hash is blocked), 'none' when it cannot be."`
}

func (c *imagesLsCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		f := core.ImageFilter{BrandID: c.Brand, Anonymous: c.Anonymous, Limit: c.Limit}
		if c.Email != "" {
			var err error
			if f.UserID, err = svc.Accounts.UserID(ctx, c.Email); err != nil {
				return err
			}
		}
		images, err := svc.Moderation.ListImages(ctx, f)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(std.out, 0, 8, 2, ' ', 0)
		fmt.Fprint(w, "PATH\tBRAND\tSIZE\tCREATED\tUSER\tCLIENT")
		if c.PDQ {
			fmt.Fprint(w, "\tPDQ")
		}
		fmt.Fprintln(w)
		for _, img := range images {
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s", core.Path(img), img.BrandID, img.Size,
				img.CreatedAt.Format(time.RFC3339), uploaderName(ctx, svc, img.Uploader.UserID), img.Uploader.ClientAddr)
			if c.PDQ {
				fmt.Fprint(w, "\t"+pdqColumn(img))
			}
			fmt.Fprintln(w)
		}
		return w.Flush()
	})
}

// pdqColumn is image img's perceptual hash as `images ls --pdq` shows it.
func pdqColumn(img core.Image) string {
	switch {
	case img.PDQ != "":
		return fmt.Sprintf("%s,%d", img.PDQ, img.PDQQuality)
	case img.PDQQuality < 0:
		return "none"
	}
	return "-"
}

type imagesRmCmd struct {
	location
	Reason    string   `help:"Why, for the audit log." required:""`
	Block     bool     `help:"Refuse later uploads of the same bytes, and of pictures that look the same (rotated and mirrored too); take every published copy of the bytes down too."`
	AllCopies bool     `name:"all-copies" help:"Take every published image with the same bytes (SHA-256) down too, without blocking them."`
	Paths     []string `arg:"" name:"path" help:"Image paths, /hc/user_images/ID.EXT."`
}

func (c *imagesRmCmd) Run(ctx context.Context, std stdio) error {
	if strings.TrimSpace(c.Reason) == "" {
		return fmt.Errorf("images rm: --reason must say why")
	}
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		by := "cli:" + loginName()
		for _, p := range c.Paths {
			id, err := core.ParseImagePath(p)
			if err != nil {
				return err
			}
			taken, err := svc.Moderation.TakeDown(ctx, core.TakedownOrder{ID: id, By: by, Reason: c.Reason, Block: c.Block, AllCopies: c.AllCopies})
			if core.ErrorCode(err) == api.CodeNotFound {
				return fmt.Errorf("images rm %s: no such image (already removed?)", p)
			}
			if err != nil {
				return fmt.Errorf("images rm %s: %w", p, err)
			}
			for i, img := range taken {
				if i == 0 {
					fmt.Fprintln(std.out, "removed", core.Path(img))
				} else {
					fmt.Fprintln(std.out, "removed", core.Path(img), "(same bytes)")
				}
			}
		}
		return nil
	})
}

type imagesLogCmd struct {
	location
	Limit int `help:"At most this many entries." default:"100"`
}

func (c *imagesLogCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		log, err := svc.Moderation.Deletions(ctx, c.Limit)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(std.out, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "DELETED\tPATH\tBY\tBLOCKED\tREASON")
		emails := map[int64]string{}
		// Named as the console names them: a user by their email.
		who := func(by string) string {
			id, ok := core.ActorUser(by)
			if !ok {
				return by
			}
			if _, seen := emails[id]; !seen {
				emails[id] = by
				if u, err := svc.Accounts.User(ctx, id); err == nil {
					emails[id] = u.Label()
				}
			}
			return emails[id]
		}
		for _, d := range log {
			fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", d.At.Format(time.RFC3339), core.Path(d.Image), who(d.By), d.Blocked, d.Reason)
		}
		return w.Flush()
	})
}

// withService runs fn on the services of an existing location; creates
// allows a new data directory (to provision brands and users before the
// first start).
func withService(ctx context.Context, std stdio, where location, creates bool, fn func(core.Services) error) error {
	if err := where.check("--db", "--blob"); err != nil {
		return err
	}
	if err := checkLocation(std, where, creates); err != nil {
		return err
	}
	svc, closeFn, err := adminService(ctx, std, where)
	if err != nil {
		return err
	}
	defer closeFn()
	return fn(svc)
}

// checkLocation refuses an embedded database that does not exist, which is
// almost always a wrong --data: working on a new empty one would hide that.
// When creating is allowed it says so instead.
func checkLocation(std stdio, where location, creating bool) error {
	if where.holdsData() {
		return nil
	}
	data := where.Data
	abs, _ := filepath.Abs(data)
	if creating {
		fmt.Fprintf(std.err, "userimages: starting a new data directory %s (the server must use the same --data)\n", abs)
		return nil
	}
	return fmt.Errorf("no userimages data in %s: give the server's --data (or USERIMAGES_DATA), or start `userimages serve --data %s` once to create it", abs, data)
}

// adminService opens the stores for a one-shot command.
func adminService(ctx context.Context, std stdio, where location) (core.Services, func(), error) {
	st, err := where.open(ctx)
	if err != nil {
		return core.Services{}, nil, err
	}
	svc, err := st.services(core.Config{}, slog.New(slog.NewTextHandler(std.err, logOptions())), nil)
	if err != nil {
		st.Close()
		return core.Services{}, nil, err
	}
	return svc, st.Close, nil
}

type gcCmd struct {
	location
	ClaimWindow time.Duration `name:"claim-window" help:"The server's --claim-window: uploads older than this are deleted. Required: a default could be shorter than the server's and delete uploads it would still accept." required:"" env:"USERIMAGES_CLAIM_WINDOW"`
}

func (c *gcCmd) Run(ctx context.Context, std stdio) error {
	if err := positive("claim-window", c.ClaimWindow); err != nil {
		return err
	}
	if err := c.check("--db", "--blob"); err != nil {
		return err
	}
	if err := checkLocation(std, c.location, false); err != nil {
		return err
	}
	st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, err := st.services(core.Config{ClaimWindow: c.ClaimWindow, UploadURLTTL: min(c.ClaimWindow, core.DefaultUploadURLTTL)}, slog.New(slog.NewTextHandler(std.err, logOptions())), nil)
	if err != nil {
		return err
	}
	stats, err := svc.Upkeep.Sweep(ctx, core.SweepOptions{Orphans: true})
	fmt.Fprintf(std.out, "expired uploads: %d, staged orphans: %d, image orphans: %d\n", stats.ExpiredUploads, stats.StagedOrphans, stats.ImageOrphans)
	return err
}

// uploaderName names an image's uploader for listings: the user's email
// (a host app's user's name and email claims and key: core.User.Label),
// or "anonymous".
func uploaderName(ctx context.Context, svc core.Services, userID int64) string {
	if userID == 0 {
		return "anonymous"
	}
	if u, err := svc.Accounts.User(ctx, userID); err == nil {
		return u.Label()
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

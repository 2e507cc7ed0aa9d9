// Command userimages is a self-hosted, Zendesk-compatible user image upload
// service. Run `userimages serve` for the embedded default.
//
// The command line is declared as structs (package kong): each command is
// a struct whose fields are its flags and arguments, with their help,
// defaults and environment variables in tags, and whose Run method runs it.
// An environment variable is read only by the commands whose help names
// it, and a flag given on the command line always wins over it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"
)

// cli is the command line.
type cli struct {
	Version kong.VersionFlag `help:"Print the module version and VCS revision, and exit."`

	Serve   serveCmd   `cmd:"" help:"Run the server."`
	GC      gcCmd      `cmd:"" name:"gc" help:"Delete expired uploads and orphaned bytes once."`
	Brand   brandCmd   `cmd:"" help:"Register and list brands."`
	User    userCmd    `cmd:"" help:"Create users and their API tokens."`
	Images  imagesCmd  `cmd:"" help:"List images, take them down, read the audit log."`
	Migrate migrateCmd `cmd:"" help:"Copy a deployment to other stores (e.g. embedded to PostgreSQL + S3), resumably."`
	Upload  uploadCmd  `cmd:"" help:"Upload image files to a server (userimages or a Zendesk help center)."`
}

// Exit statuses.
const (
	exitFailed = 1 // the command ran and failed
	exitUsage  = 2 // the command line is wrong; nothing ran
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args and runs the command; it returns the exit status. Every
// mistake is reported once, on stderr, prefixed "userimages: ".
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c cli
	exit := -1
	parser, err := kong.New(&c,
		kong.Name("userimages"),
		kong.Description("Self-hosted, Zendesk-compatible user image uploads."),
		kong.Vars(flagDefaults()),
		kong.Vars{"version": version()},
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exit = code }),
		kong.BindTo(ctx, (*context.Context)(nil)),
	)
	if err != nil { // a mistake in the declarations above
		fmt.Fprintln(stderr, "userimages:", err)
		return exitFailed
	}
	kctx, err := parser.Parse(args)
	if exit >= 0 { // --help or --version
		return exit
	}
	if err != nil {
		fmt.Fprintf(stderr, "userimages: %v (see userimages %s--help)\n", err, commandOf(err))
		return exitUsage
	}
	if err := kctx.Run(); err != nil {
		fmt.Fprintln(stderr, "userimages:", err)
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitFailed
	}
	return 0
}

// commandOf is the command a parse error is about, "serve " say, or "".
func commandOf(err error) string {
	var pe *kong.ParseError
	if errors.As(err, &pe) && pe.Context != nil {
		if cmd := pe.Context.Command(); cmd != "" {
			return strings.Join(strings.Fields(strings.NewReplacer("<", "", ">", "").Replace(cmd)), " ") + " "
		}
	}
	return ""
}

// usageError is a command line that parses but asks for what cannot be
// done (a database without its bucket, say): nothing ran.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// version is the module version and VCS revision the binary was built
// from, as the Go toolchain recorded them.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "userimages (no build information)"
	}
	v := "userimages " + info.Main.Version
	var rev, modified, at string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		case "vcs.time":
			at = " " + s.Value
		}
	}
	if rev != "" {
		v += " (revision " + rev + modified + at + ")"
	}
	return v + " " + info.GoVersion
}

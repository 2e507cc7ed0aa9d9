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

	Serve     serveCmd     `cmd:"" help:"Run the server."`
	GC        gcCmd        `cmd:"" name:"gc" help:"Delete expired uploads and orphaned bytes once."`
	Brand     brandCmd     `cmd:"" help:"Register and list brands."`
	User      userCmd      `cmd:"" help:"Create users and their API tokens."`
	Images    imagesCmd    `cmd:"" help:"List images, take them down, read the audit log."`
	Migrate   migrateCmd   `cmd:"" help:"Copy a deployment to other stores (e.g. embedded to PostgreSQL + S3), resumably."`
	Upload    uploadCmd    `cmd:"" help:"Upload image files to a server (userimages or a Zendesk help center)."`
	Backup    backupCmd    `cmd:"" help:"Back up the embedded default (database snapshot and image bytes) to a directory or bucket, or verify a backup."`
	Restore   restoreCmd   `cmd:"" help:"Build a data directory from a backup."`
	Hash      hashCmd      `cmd:"" help:"Print the PDQ perceptual hash of image files, HASH,QUALITY,FILE as Meta's pdq-photo-hasher prints it."`
	Blocklist blocklistCmd `cmd:"" help:"Block pictures by their perceptual hashes: import, list, export and remove hash lists."`
	Webhook   webhookCmd   `cmd:"" help:"Register, list and remove webhook endpoints; see their deliveries."`
}

// stdio is what a command reads and writes: its Run takes it rather than
// using the process's, so that it writes where it is told.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// exitFailed is the exit status of a failed command or a wrong command
// line.
const exitFailed = 1

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args and runs the command; it returns the exit status. Every
// mistake is reported once, on stderr, prefixed "userimages: ".
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
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
		kong.Bind(stdio{in: stdin, out: stdout, err: stderr}),
	)
	if err != nil { // a mistake in the declarations above
		fmt.Fprintln(stderr, "userimages:", err)
		return exitFailed
	}
	kctx, err := parser.Parse(interspersed(parser.Model, args))
	if exit >= 0 { // --help or --version
		return exit
	}
	if err != nil {
		fmt.Fprintf(stderr, "userimages: %v (see userimages %s--help)\n", err, commandOf(err))
		return exitFailed
	}
	if err := kctx.Run(); err != nil {
		fmt.Fprintln(stderr, "userimages:", err)
		return exitFailed
	}
	return 0
}

// interspersed moves the arguments of a command that are not flags after
// its flags, so that flags may come before or after the files of
// `upload FILE... --brand ID` (kong reads one run of positional arguments).
// A "--" and what follows it stay last; args with a flag the command does
// not declare are left as they are.
func interspersed(app *kong.Application, args []string) []string {
	node := app.Node
	i := 0
commands:
	for ; i < len(args); i++ {
		for _, child := range node.Children {
			if child.Type == kong.CommandNode && child.Name == args[i] {
				node = child
				continue commands
			}
		}
		break
	}
	takesValue := map[string]bool{}
	for _, group := range node.AllFlags(false) {
		for _, f := range group {
			v := !f.IsBool() && !f.IsCounter()
			takesValue["--"+f.Name] = v
			if f.Short != 0 {
				takesValue["-"+string(f.Short)] = v
			}
		}
	}
	out := append([]string(nil), args[:i]...)
	var positional []string
	for j := i; j < len(args); j++ {
		switch a := args[j]; {
		case a == "--":
			positional = append(positional, args[j:]...)
			j = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			name, _, inline := strings.Cut(a, "=")
			v, known := takesValue[name]
			if !known {
				return args // a flag of a default subcommand, or a mistake kong reports
			}
			out = append(out, a)
			if v && !inline && j+1 < len(args) {
				j++
				out = append(out, args[j])
			}
		default:
			positional = append(positional, a)
		}
	}
	return append(out, positional...)
}

// commandOf is the command a parse error is about, "serve " say, or "".
func commandOf(err error) string {
	var pe *kong.ParseError
	if errors.As(err, &pe) && pe.Context != nil {
		var words []string
		for _, w := range strings.Fields(pe.Context.Command()) {
			if !strings.HasPrefix(w, "<") {
				words = append(words, w)
			}
		}
		if len(words) > 0 {
			return strings.Join(words, " ") + " "
		}
	}
	return ""
}

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

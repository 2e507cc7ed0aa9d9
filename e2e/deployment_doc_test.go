package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestDeploymentDocFlagTables checks DEPLOYMENT.md's flag tables against the
// real binary: every flag `serve --help` and `migrate --help` print has a
// row in its command's table, with the environment variable the help names
// for it (USERIMAGES_<FLAG>), and no row names a flag the command does not
// have.
func TestDeploymentDocFlagTables(t *testing.T) {
	doc, err := os.ReadFile("../DEPLOYMENT.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"serve", "migrate"} {
		t.Run(cmd, func(t *testing.T) {
			flags := helpFlags(t, cmd)
			if len(flags) < 3 {
				t.Fatalf("%s --help: found only %d flags (%v); is the help format still `      --name=VALUE  help ($ENV)`?", cmd, len(flags), flags)
			}
			checkFlagTable(t, "DEPLOYMENT.md", string(doc), "### `"+cmd+"`", cmd, flags)
		})
	}
}

// checkFlagTable checks the flag table under heading in the document name
// against flags, those `cmd --help` prints with the environment variable
// its help names: a row for each, with that variable (USERIMAGES_<FLAG>)
// in its env column, and no row for a flag the command does not have.
func checkFlagTable(t *testing.T, name, doc, heading, cmd string, flags map[string]string) {
	t.Helper()
	rows := flagTable(t, doc, heading)
	for f, helpEnv := range flags {
		env, ok := rows[f]
		if !ok {
			t.Errorf("%s: the %s flag table has no row for --%s", name, cmd, f)
			continue
		}
		if want := "USERIMAGES_" + strings.ToUpper(strings.ReplaceAll(f, "-", "_")); env != want || helpEnv != want {
			t.Errorf("%s: %s --%s: env column says %q, the help %q; want both %s", name, cmd, f, env, helpEnv, want)
		}
	}
	for f := range rows {
		if _, ok := flags[f]; !ok {
			t.Errorf("%s: the %s flag table has a row for --%s, which `%s --help` does not print", name, cmd, f, cmd)
		}
	}
}

// helpFlags runs `userimages CMD --help` and returns the flags it prints,
// each with the environment variable its help names ("" for none), but
// --help and --version, which every command has.
func helpFlags(t *testing.T, cmd string) map[string]string {
	t.Helper()
	c := exec.Command(binPath, cmd, "--help")
	c.Env = cleanEnv()
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		t.Fatalf("userimages %s --help: %v\n%s", cmd, err, out.String())
	}
	flags := map[string]string{}
	start := regexp.MustCompile(`^  (?:-\w, |    )--([a-z0-9][a-z0-9-]*)`)
	env := regexp.MustCompile(`\(\$(USERIMAGES_[A-Z0-9_]+)\)`)
	name := ""
	for _, line := range strings.Split(out.String(), "\n") {
		if m := start.FindStringSubmatch(line); m != nil {
			name = m[1]
			flags[name] = ""
		} else if strings.TrimSpace(line) == "" || !strings.HasPrefix(line, "   ") {
			name = ""
		}
		if m := env.FindStringSubmatch(line); m != nil && name != "" {
			flags[name] = m[1]
		}
	}
	delete(flags, "help")
	delete(flags, "version")
	return flags
}

// flagTable returns the rows of the flag table under the heading (a whole
// line, e.g. "### `serve`") of a document: flag name (without dashes) → its
// env column.
func flagTable(t *testing.T, doc, heading string) map[string]string {
	t.Helper()
	heading = "\n" + heading + "\n"
	i := strings.Index(doc, heading)
	if i < 0 {
		t.Fatalf("no heading %q", strings.TrimSpace(heading))
	}
	section := doc[i+len(heading):]
	if j := strings.Index(section, "\n#"); j >= 0 {
		section = section[:j]
	}
	rows := map[string]string{}
	row := regexp.MustCompile("(?m)^\\| `--?([a-z0-9][a-z0-9-]*)` \\| `([A-Z0-9_]+)` \\|")
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		if _, dup := rows[m[1]]; dup {
			t.Errorf("the table under %q has two rows for --%s", strings.TrimSpace(heading), m[1])
		}
		rows[m[1]] = m[2]
	}
	if len(rows) == 0 {
		t.Fatalf("no flag rows (| `--flag` | `USERIMAGES_FLAG` | …) under %q", strings.TrimSpace(heading))
	}
	return rows
}

// TestREADMEFlagTable checks the configuration table the README links to
// (docs/configuration.md) against `serve --help`, as
// TestDeploymentDocFlagTables does DEPLOYMENT.md's.
func TestREADMEFlagTable(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	checkFlagTable(t, "docs/configuration.md", string(doc), "## Configuration", "serve", helpFlags(t, "serve"))
}

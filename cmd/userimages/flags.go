package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// listFlag is a repeatable flag; from the environment it is comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// parse sets each flag of fs from USERIMAGES_<NAME> when that is set, then
// from args, which win. Flags may come before or after the positional
// arguments, which it returns.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := "USERIMAGES_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", env, e)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

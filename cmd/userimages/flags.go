package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"userimages/ratelimit"
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

// limitFlag is a rate limit, RATE/PERIOD or off.
type limitFlag struct{ l ratelimit.Limit }

func (f *limitFlag) String() string { return f.l.String() }
func (f *limitFlag) Set(v string) error {
	l, err := ratelimit.Parse(v)
	if err == nil {
		f.l = l
	}
	return err
}

// prefixFlag is a repeatable list of CIDR prefixes; a bare address is a
// prefix of its full length.
type prefixFlag []netip.Prefix

func (p *prefixFlag) String() string {
	var s []string
	for _, x := range *p {
		s = append(s, x.String())
	}
	return strings.Join(s, ",")
}

func (p *prefixFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return fmt.Errorf("%q is not a CIDR prefix or an address", s)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		*p = append(*p, prefix.Masked())
	}
	return nil
}

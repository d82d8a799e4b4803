package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// stringList is a repeatable flag; from the environment it is
// comma-separated.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*s = append(*s, part)
		}
	}
	return nil
}

// parseWithEnv parses args, then fills every flag not given on the command
// line from CASS_<NAME>. It returns the set of flags given either way.
func parseWithEnv(fs *flag.FlagSet, args []string) (map[string]bool, error) {
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if explicit[f.Name] || err != nil {
			return
		}
		env := "CASS_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s: %w", env, serr)
				return
			}
			explicit[f.Name] = true
		}
	})
	return explicit, err
}

// flagUsage prints a command's synopsis and its flags.
func flagUsage(fs *flag.FlagSet, synopsis string) func() {
	return func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags (each also settable as CASS_<FLAG_NAME>):\n", synopsis)
		fs.PrintDefaults()
	}
}

package main

import (
	"flag"
	"fmt"
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
	src, err := parseLayers(fs, args)
	if err != nil {
		return nil, err
	}
	explicit := make(map[string]bool, len(src))
	for k := range src {
		explicit[k] = true
	}
	return explicit, nil
}

// flagUsage prints a command's synopsis and its flags.
func flagUsage(fs *flag.FlagSet, synopsis string) func() {
	return func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags (each also settable as CASS_<FLAG_NAME>):\n", synopsis)
		fs.PrintDefaults()
	}
}

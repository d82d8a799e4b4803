package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// Nouns lists the CLI's nouns, for cmd/cassnet's dispatcher and usage.
func Nouns() []string {
	out := make([]string, 0, len(nouns))
	for _, n := range nouns {
		out = append(out, n.name)
	}
	return out
}

// Usage is one line per noun, for cmd/cassnet's usage text.
func Usage() string {
	var b strings.Builder
	for _, n := range nouns {
		var vs []string
		for _, v := range n.verbs {
			vs = append(vs, v.name)
		}
		fmt.Fprintf(&b, "  cassnet %s %s\n", n.name, strings.Join(vs, "|"))
	}
	return b.String()
}

// ErrUsage is returned for a command line that names no verb or a wrong
// one, after the usage has been printed.
var ErrUsage = errors.New("see the usage above")

// Run runs one command line: args[0] is the noun, args[1] the verb. It
// prints results on stdout and usage on stderr. --help is not an error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, Usage())
		return ErrUsage
	}
	i := slices.IndexFunc(nouns, func(n noun) bool { return n.name == args[0] })
	if i < 0 {
		return fmt.Errorf("unknown command %q", args[0])
	}
	n := &nouns[i]
	if len(args) < 2 || args[1] == "help" || args[1] == "--help" || args[1] == "-h" {
		nounUsage(stderr, n)
		if len(args) < 2 {
			return ErrUsage
		}
		return nil
	}
	j := slices.IndexFunc(n.verbs, func(v verb) bool { return v.name == args[1] })
	if j < 0 {
		nounUsage(stderr, n)
		return fmt.Errorf("%s: unknown verb %q", n.name, args[1])
	}
	return runVerb(ctx, n, &n.verbs[j], args[2:], stdout, stderr)
}

func nounUsage(w io.Writer, n *noun) {
	fmt.Fprintf(w, "cassnet %s: %s\n\nVerbs:\n", n.name, n.summary)
	for _, v := range n.verbs {
		fmt.Fprintf(w, "  %-8s %s\n           e.g. %s\n", v.name, v.summary, v.example)
	}
	fmt.Fprintf(w, "\nRun 'cassnet %s <verb> --help' for a verb's flags.\n", n.name)
}

// vals holds a parsed command line.
type vals struct {
	args []string
	str  map[string]*string
	bol  map[string]*bool
	dur  map[string]*time.Duration
}

func (v *vals) arg(i int) string            { return v.args[i] }
func (v *vals) s(name string) string        { return *v.str[name] }
func (v *vals) b(name string) bool          { return *v.bol[name] }
func (v *vals) d(name string) time.Duration { return *v.dur[name] }

func runVerb(ctx context.Context, n *noun, vb *verb, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(n.name+" "+vb.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var conn connFlags
	fs.StringVar(&conn.addr, "http-addr", "127.0.0.1:8080", "the node's REST address")
	fs.StringVar(&conn.token, "token", "", "an operator token or API key")
	fs.StringVar(&conn.dataDir, "data-dir", "", "read the admin token from this node's data dir")
	fs.StringVar(&conn.caFile, "ca-file", "", "use HTTPS, trusting this CA certificate")
	fs.BoolVar(&conn.json, "json", false, "print the API's JSON instead of a table")
	v := &vals{str: map[string]*string{}, bol: map[string]*bool{}, dur: map[string]*time.Duration{}}
	for _, f := range vb.flags {
		switch f.kind {
		case 's':
			v.str[f.name] = fs.String(f.name, f.def, f.usage)
		case 'b':
			v.bol[f.name] = fs.Bool(f.name, false, f.usage)
		case 'd':
			def, _ := time.ParseDuration(f.def)
			v.dur[f.name] = fs.Duration(f.name, def, f.usage)
		}
	}
	synopsis := "Usage: cassnet " + n.name + " " + vb.name
	for _, a := range vb.args {
		synopsis += " " + a
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s [flags]\n\n%s.\n\nExample:\n  %s\n\nFlags (each also settable as CASS_<FLAG_NAME>):\n", synopsis, capital(vb.summary), vb.example)
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != len(vb.args) {
		fs.Usage()
		return fmt.Errorf("%s %s: want %d argument(s) (%s), got %d", n.name, vb.name, len(vb.args), strings.Join(vb.args, " "), len(pos))
	}
	v.args = pos
	for _, f := range vb.flags {
		if f.required && f.kind == 's' && strings.TrimSpace(*v.str[f.name]) == "" {
			return fmt.Errorf("%s %s: --%s is required (e.g. %s)", n.name, vb.name, f.name, vb.example)
		}
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	var body any
	if vb.body != nil {
		if body, err = vb.body(v); err != nil {
			return err
		}
	}
	var answer any
	if err := c.Do(ctx, vb.method, vb.path(v), body, &answer); err != nil {
		return err
	}
	if conn.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if answer == nil {
			answer = map[string]any{}
		}
		return enc.Encode(answer)
	}
	if vb.cols == nil {
		_, err := fmt.Fprintln(stdout, vb.done(v))
		return err
	}
	return printTable(stdout, vb.cols, rowsOf(answer, vb.list))
}

// parse parses flags that may come before, between or after positional
// arguments, then fills unset flags from CASS_<NAME>.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := "CASS_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if val, ok := os.LookupEnv(env); ok {
			if serr := fs.Set(f.Name, val); serr != nil {
				err = fmt.Errorf("%s: %w", env, serr)
			}
		}
	})
	return pos, err
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

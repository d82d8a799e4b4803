package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Limits on a Spec, checked before anything starts.
const (
	maxIDLen    = 128
	maxArgs     = 256
	maxArgBytes = 64 << 10 // all arguments together
	maxEnv      = 256
	maxEnvBytes = 64 << 10 // all names and values together
	maxPorts    = 16
)

// ErrInvalidSpec: a Spec field is malformed (an id, an env name, a port).
var ErrInvalidSpec = errors.New("supervisor: invalid spec")

// ValidID reports whether id may name a server (and its log file):
// 1 to 128 of [A-Za-z0-9._-], not "." or "..".
func ValidID(id string) error {
	if id == "" || len(id) > maxIDLen || id == "." || id == ".." {
		return fmt.Errorf("%w: server id must be 1 to %d characters", ErrInvalidSpec, maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: server id %q: only letters, digits, '.', '_' and '-'", ErrInvalidSpec, id)
		}
	}
	return nil
}

// ValidEnvName reports whether name matches [A-Z_][A-Z0-9_]* (at most 128
// bytes).
func ValidEnvName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("%w: env name must be 1 to 128 characters", ErrInvalidSpec)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return fmt.Errorf("%w: env name %q must match [A-Z_][A-Z0-9_]*", ErrInvalidSpec, name)
		}
	}
	return nil
}

// ValidateEnv checks every name (ValidEnvName), that no value holds a NUL,
// and the size limits. With userEnv, names starting with CN_ are refused:
// that is how a fleet spec's env must be checked, because CN_* is the
// node's contract with the game server (CN_KEY is a secret). Errors never
// quote a value.
func ValidateEnv(env map[string]string, userEnv bool) error {
	if len(env) > maxEnv {
		return fmt.Errorf("%w: at most %d env variables", ErrInvalidSpec, maxEnv)
	}
	total := 0
	for k, v := range env {
		if err := ValidEnvName(k); err != nil {
			return err
		}
		if userEnv && strings.HasPrefix(k, "CN_") {
			return fmt.Errorf("%w: env %s: CN_* names are reserved for the node", ErrInvalidSpec, k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("%w: env %s: the value holds a NUL byte", ErrInvalidSpec, k)
		}
		total += len(k) + len(v) + 2
	}
	if total > maxEnvBytes {
		return fmt.Errorf("%w: env is %d bytes, limit %d", ErrInvalidSpec, total, maxEnvBytes)
	}
	return nil
}

// ParsePortRange parses "7000-7999" or "7000" into an inclusive range
// within 1..65535.
func ParsePortRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	num := func(x string) (int, error) {
		if x == "" || len(x) > 5 {
			return 0, fmt.Errorf("%w: port range %q", ErrInvalidSpec, s)
		}
		for i := 0; i < len(x); i++ {
			if x[i] < '0' || x[i] > '9' {
				return 0, fmt.Errorf("%w: port range %q", ErrInvalidSpec, s)
			}
		}
		n, _ := strconv.Atoi(x)
		if n < 1 || n > 65535 {
			return 0, fmt.Errorf("%w: port %d outside 1-65535", ErrInvalidSpec, n)
		}
		return n, nil
	}
	if lo, err = num(a); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = num(b); err != nil {
			return 0, 0, err
		}
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("%w: port range %q ends before it starts", ErrInvalidSpec, s)
	}
	return lo, hi, nil
}

// portEnv is the env name of a port: CN_PORT_ and the name in upper case,
// '-' as '_'. Port names match [a-z][a-z0-9_-]{0,31} (case-insensitive).
func portEnv(name string) (string, error) {
	if name == "" || len(name) > 32 {
		return "", fmt.Errorf("%w: port name must be 1 to 32 characters", ErrInvalidSpec)
	}
	b := []byte(strings.ToUpper(name))
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_'):
		case i > 0 && c == '-':
			b[i] = '_'
		default:
			return "", fmt.Errorf("%w: port name %q must match [a-z][a-z0-9_-]*", ErrInvalidSpec, name)
		}
	}
	return "CN_PORT_" + string(b), nil
}

// ValidatePorts checks names, protocols and ranges of ports.
func ValidatePorts(ports []PortSpec) error {
	if len(ports) > maxPorts {
		return fmt.Errorf("%w: at most %d ports", ErrInvalidSpec, maxPorts)
	}
	seen := map[string]bool{}
	for _, p := range ports {
		env, err := portEnv(p.Name)
		if err != nil {
			return err
		}
		if seen[env] {
			return fmt.Errorf("%w: port %q named twice", ErrInvalidSpec, p.Name)
		}
		seen[env] = true
		if p.Protocol != "udp" && p.Protocol != "tcp" {
			return fmt.Errorf("%w: port %q: protocol must be udp or tcp", ErrInvalidSpec, p.Name)
		}
		if _, _, err := ParsePortRange(p.Range); err != nil {
			return err
		}
	}
	return nil
}

// cleanAllow cleans the Allow prefixes and resolves their symlinks (a
// prefix that does not exist yet is kept cleaned).
func cleanAllow(allow []string) ([]string, error) {
	var out []string
	for _, a := range allow {
		if !filepath.IsAbs(a) {
			return nil, fmt.Errorf("supervisor: allow prefix %q is not absolute", a)
		}
		a = filepath.Clean(a)
		if r, err := filepath.EvalSymlinks(a); err == nil {
			a = r
		}
		out = append(out, a)
	}
	return out, nil
}

// under reports whether path is dir or inside it (both clean).
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// resolveCommand checks cmd against the allow prefixes: it must be
// absolute, under a prefix as written (cleaned) and again after resolving
// its symlinks, and an executable regular file. It returns the resolved
// path, which is what is executed.
func resolveCommand(cmd string, allow []string) (string, error) {
	if !filepath.IsAbs(cmd) {
		return "", fmt.Errorf("%w: %q is not an absolute path", ErrNotAllowed, cmd)
	}
	inside := func(p string) bool {
		for _, a := range allow {
			if under(p, a) {
				return true
			}
		}
		return false
	}
	clean := filepath.Clean(cmd)
	if !inside(clean) {
		return "", fmt.Errorf("%w: %s is outside the --fleet-allow prefixes", ErrNotAllowed, clean)
	}
	resolved, err := filepath.EvalSymlinks(clean)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %s", ErrNoBinary, clean)
	} else if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrNoBinary, clean, err)
	}
	if !inside(resolved) {
		return "", fmt.Errorf("%w: %s resolves to %s, outside the --fleet-allow prefixes", ErrNotAllowed, clean, resolved)
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrNoBinary, clean, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%w: %s is not an executable file", ErrNoBinary, clean)
	}
	return resolved, nil
}

// checkSpec validates everything in spec that needs no file system.
func checkSpec(spec Spec) error {
	if err := ValidID(spec.ServerID); err != nil {
		return err
	}
	if len(spec.Command) == 0 || len(spec.Command) > maxArgs {
		return fmt.Errorf("%w: command must have 1 to %d elements", ErrInvalidSpec, maxArgs)
	}
	n := 0
	for _, a := range spec.Command {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("%w: command holds a NUL byte", ErrInvalidSpec)
		}
		n += len(a)
	}
	if n > maxArgBytes {
		return fmt.Errorf("%w: command is %d bytes, limit %d", ErrInvalidSpec, n, maxArgBytes)
	}
	if err := ValidateEnv(spec.Env, false); err != nil {
		return err
	}
	if spec.MaxRestarts < 0 || spec.Backoff < 0 || spec.ShutdownGrace < 0 || spec.MemoryMB < 0 || spec.CPUPercent < 0 {
		return fmt.Errorf("%w: negative restart, grace or resource value", ErrInvalidSpec)
	}
	return ValidatePorts(spec.Ports)
}

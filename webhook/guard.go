package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrRefused is wrapped by every SSRF refusal.
var ErrRefused = errors.New("webhook target refused")

// Resolver resolves host names (net.DefaultResolver implements it).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard is the SSRF policy of webhook targets. Loopback, link-local,
// private (RFC 1918, ULA), CGNAT, unspecified, multicast, broadcast and
// reserved addresses are refused unless AllowPrivate; plain http unless
// AllowHTTP. It checks a URL when a webhook is created or changed
// (CheckURL) and, because DNS can answer differently later (rebinding),
// the address of every connection the delivery client makes (Control). A
// Guard is safe for concurrent use.
type Guard struct {
	AllowPrivate bool
	AllowHTTP    bool
	// Resolver resolves host names at creation. Default: net.DefaultResolver.
	Resolver Resolver
}

var blocked = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",      // "this network", unspecified
		"100.64.0.0/10",  // CGNAT (RFC 6598)
		"192.0.0.0/24",   // IETF protocol assignments
		"198.18.0.0/15",  // benchmarking
		"240.0.0.0/4",    // reserved, broadcast
		"64:ff9b::/96",   // NAT64: checked by its embedded IPv4 too
		"64:ff9b:1::/48", // local-use NAT64
		"2002::/16",      // 6to4
		"fec0::/10",      // site-local (deprecated)
		"100::/64",       // discard-only
		"2001::/32",      // Teredo
		"::ffff:0:0/96",  // IPv4-mapped (unmapped first; kept as a fallback)
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// CheckIP refuses an address the policy does not allow.
func (g *Guard) CheckIP(ip netip.Addr) error {
	if g.AllowPrivate {
		return nil
	}
	ip = ip.Unmap().WithZone("")
	switch {
	case !ip.IsValid():
		return fmt.Errorf("%w: invalid address", ErrRefused)
	case ip.IsLoopback():
		return fmt.Errorf("%w: %s is a loopback address", ErrRefused, ip)
	case ip.IsPrivate():
		return fmt.Errorf("%w: %s is a private address", ErrRefused, ip)
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return fmt.Errorf("%w: %s is a link-local address", ErrRefused, ip)
	case ip.IsUnspecified():
		return fmt.Errorf("%w: %s is unspecified", ErrRefused, ip)
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return fmt.Errorf("%w: %s is a multicast address", ErrRefused, ip)
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s is in reserved range %s", ErrRefused, ip, p)
		}
	}
	return nil
}

// CheckURL checks a webhook URL before it is stored: the scheme, and every
// address its host resolves to (a literal IP as it is). A host name that
// does not resolve is refused too.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: not a URL", ErrRefused)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !g.AllowHTTP {
			return fmt.Errorf("%w: https is required (the operator can allow http with --webhook-allow-http)", ErrRefused)
		}
	default:
		return fmt.Errorf("%w: scheme must be https", ErrRefused)
	}
	if g.AllowPrivate {
		return nil
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		return g.CheckIP(ip)
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("%w: %s is a loopback name", ErrRefused, host)
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return fmt.Errorf("%w: host %s does not resolve", ErrRefused, host)
	}
	for _, ip := range ips {
		if err := g.CheckIP(ip); err != nil {
			return fmt.Errorf("%s resolves to a refused address: %w", host, err)
		}
	}
	return nil
}

// Control is a net.Dialer Control function: it runs after the name was
// resolved, with the address about to be connected, so a DNS answer that
// changed since CheckURL cannot reach a refused address.
func (g *Guard) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ErrRefused, address)
	}
	return g.CheckIP(ap.Addr())
}

// MaxResponseBytes is how much of a response body a delivery reads.
const MaxResponseBytes = 64 << 10

// Client returns the delivery HTTP client: every connection checked by
// Control, no proxy (one would bypass the check), no redirects followed
// (a 3xx is a failed delivery), timeout per request.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: min(timeout, 5*time.Second), Control: g.Control}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    8,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    5 * time.Second,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 16 << 10,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

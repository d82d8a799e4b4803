package node

import (
	"fmt"
	"net/http"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/console"
	"github.com/cassandranet/cassnet/pki"
)

// peerHTTP is the client and scheme this node uses to ask other members'
// REST APIs (cluster-wide server lists, drains, the metrics history):
// HTTPS trusting the cluster CA (or the user's certificate) under
// --http-tls, plain HTTP otherwise.
func (n *Node) peerHTTP(ident *pki.Identity) (*http.Client, string) {
	client, scheme := &http.Client{}, "http"
	if n.cfg.HTTPTLS {
		client.Transport = &http.Transport{TLSClientConfig: ident.ClientConfig()}
		if n.httpCert != nil {
			client.Transport = n.httpCert.httpTransport(ident)
		}
		scheme = "https"
	}
	return client, scheme
}

// newConsole configures the operator console (package console). It
// authenticates logins with the REST API's own Authenticate, bound late:
// api.New takes the console, and n.api is set before anything serves.
func (n *Node) newConsole() (*console.Console, error) {
	c, err := console.New(console.Config{
		Authenticate: func(cred string) (api.Principal, error) { return n.api.Authenticate(cred) },
		NodeName:     n.cfg.Name,
		Logger:       n.logger.With("component", "console"),
	})
	if err != nil {
		return nil, fmt.Errorf("configure console: %w", err)
	}
	return c, nil
}

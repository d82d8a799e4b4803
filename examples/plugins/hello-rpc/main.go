// Command hello-rpc is an example CassandraNet plugin with one RPC,
// "hello": POST /v1/tenants/{tenant}/rpc/hello with {"name":"ada"}
// answers {"hello":"ada"}.
package main

import (
	"errors"

	"github.com/cassandranet/cassnet/pluginsdk"
)

func init() {
	pluginsdk.Manifest("hello-rpc", "1.0.0")
	pluginsdk.RPC("hello", hello)
}

func hello(c pluginsdk.Call) (any, error) {
	var in struct {
		Name string `json:"name"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, errors.New("hello: the payload must be {\"name\": \"...\"}")
	}
	if in.Name == "" {
		in.Name = c.Caller.ID
	}
	return map[string]string{"hello": in.Name}, nil
}

func main() {}

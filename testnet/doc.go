// Package testnet starts real cassnet agent processes, drives them and
// breaks them on purpose. Integration tests, `cassnet bench` and the
// chaos harness all use it.
//
// It owns processes, their data dirs and ports, and an HTTP client for the
// REST API. It must not import the node, consensus or mesh packages: it
// sees a cluster only the way an operator does, through processes and
// HTTP.
package testnet

package main

/*
#cgo CFLAGS: -I${SRCDIR}/include
#define CN_NO_PROTOTYPES
#include <stdlib.h>
#include "cassnet.h"

extern char **environ;
static const char *cn_environ_at(size_t i) { return environ[i]; }
*/
import "C"

import (
	"strconv"
	"strings"
	"unsafe"
)

// The environment a node's supervisor gives a fleet server
// (docs/supervisor.md#the-environment-contract). It is read from the C
// environment at each call (getenv), so a setenv before cn_init counts.
const (
	envNode    = "CN_NODE"
	envKey     = "CN_KEY"
	envServer  = "CN_SERVER_ID"
	envProject = "CN_PROJECT"
	envFleet   = "CN_FLEET"
	envPort    = "CN_PORT_"
)

// getenv answers the C environment's value of name ("" when unset), at
// most max bytes (tooLong otherwise).
func getenv(name string, max int) (v string, tooLong bool) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	s, ok, long := cstr(C.getenv(cn), max)
	if !ok || long {
		return "", long
	}
	return strings.Clone(s), false
}

// portEnvName is CN_PORT_ and name in upper case with '-' as '_'.
func portEnvName(name string) string {
	return envPort + strings.ReplaceAll(strings.ToUpper(name), "-", "_")
}

// parsePort parses a port number 1..65535.
func parsePort(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || len(s) > 5 {
		return 0, false
	}
	return uint32(n), true
}

// envPorts answers every CN_PORT_<NAME> of the environment as
// {lower(name): port}, skipping malformed values.
func envPorts() map[string]uint32 {
	out := map[string]uint32{}
	for i := C.size_t(0); i < 4096; i++ {
		e := C.cn_environ_at(i)
		if e == nil {
			break
		}
		kv, ok, long := cstr(e, 4096)
		if !ok || long {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		name, ok := strings.CutPrefix(k, envPort)
		if !ok || name == "" || len(name) > 32 {
			continue
		}
		if p, ok := parsePort(v); ok {
			out[strings.ToLower(name)] = p
		}
	}
	return out
}

//export cn_port
func cn_port(name *C.char, port *C.uint32_t) C.cn_status {
	n, st := arg(name, 32)
	if st != C.CN_OK {
		return st
	}
	if port == nil {
		return C.CN_ERR_INVALID_ARGUMENT
	}
	v, tooLong := getenv(portEnvName(n), 16)
	if tooLong {
		return C.CN_ERR_INVALID_ARGUMENT
	}
	if v == "" {
		return C.CN_ERR_NOT_FOUND
	}
	p, ok := parsePort(v)
	if !ok {
		return C.CN_ERR_INVALID_ARGUMENT
	}
	*port = C.uint32_t(p)
	return C.CN_OK
}

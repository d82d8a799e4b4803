// Command raw is a test plugin written against the ABI without the SDK:
// its before_ban_create allows at once, from static buffers. It is the
// floor of a hook call's cost (host plus the Go wasm export entry), for
// the benchmark.
package main

import "unsafe"

var (
	buf      = make([]byte, 64<<10)
	manifest = []byte(`{"name":"raw","version":"1","hooks":["before_ban_create"],"rpcs":[]}`)
	allow    = []byte(`{"action":"allow"}`)
)

//go:wasmexport cn_alloc
func cnAlloc(size uint32) uint32 {
	if int(size) > len(buf) {
		buf = make([]byte, size)
	}
	return uint32(uintptr(unsafe.Pointer(&buf[0])))
}

//go:wasmexport cn_manifest
func cnManifest() uint64 { return pack(manifest) }

//go:wasmexport cn_call
func cnCall(hookPtr, hookLen, inPtr, inLen uint32) uint64 { return pack(allow) }

func pack(b []byte) uint64 {
	return uint64(uintptr(unsafe.Pointer(&b[0])))<<32 | uint64(len(b))
}

func main() {}

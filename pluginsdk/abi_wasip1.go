//go:build wasip1

package pluginsdk

import "unsafe"

// The ABI (docs/addons.md): the host writes inputs into buffers it gets
// from cn_alloc, calls cn_call or cn_manifest, and reads the answer at the
// packed (ptr<<32 | len) they return before its next call.

// pinned keeps the buffers handed to the host alive (Go's GC does not move
// memory, so a referenced buffer stays where the host wrote it).
var pinned [][]byte

// out is the last answer, kept alive until the next call.
var out []byte

//go:wasmexport cn_alloc
func cnAlloc(size uint32) uint32 {
	if size == 0 {
		size = 1
	}
	b := make([]byte, size)
	pinned = append(pinned, b)
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

//go:wasmexport cn_manifest
func cnManifest() uint64 { return keep(ManifestJSON()) }

//go:wasmexport cn_call
func cnCall(hookPtr, hookLen, inPtr, inLen uint32) uint64 {
	hook := string(view(hookPtr, hookLen))
	input := view(inPtr, inLen)
	res := Dispatch(hook, input)
	pinned = pinned[:0] // the inputs are consumed
	return keep(res)
}

func view(ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), n)
}

func keep(b []byte) uint64 {
	out = b
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))<<32 | uint64(len(b))
}

//go:wasmimport cassnet log
func hostLog(level int32, ptr unsafe.Pointer, n uint32)

//go:wasmimport cassnet now_unix_nano
func hostNow() int64

func logf(level int32, msg string) {
	if len(msg) == 0 {
		return
	}
	b := []byte(msg)
	hostLog(level, unsafe.Pointer(&b[0]), uint32(len(b)))
}

func now() int64 { return hostNow() }

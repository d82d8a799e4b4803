//go:build wasip1

package pluginsdk

import "unsafe"

// The ABI (docs/addons.md), version 2: the host writes a call's parts
// into a buffer it gets from cn_alloc, calls cn_hook (or, an older host,
// cn_call with one JSON input) or cn_manifest, and reads the answer at
// the packed (ptr<<32 | len) they return before its next call.
//
// Memory is reused from call to call: cn_alloc carves from one arena that
// a call's end resets, and the answer is encoded into one buffer, so a
// call allocates only what the handler does.

var (
	arena []byte   // cn_alloc's buffers, reset after each call
	used  int      // bytes of arena handed out since the last reset
	extra [][]byte // buffers that did not fit, kept until the reset
	need  int      // what this call asked for in all
	out   []byte   // the last answer, kept until the next call
)

//go:wasmexport cn_alloc
func cnAlloc(size uint32) uint32 {
	n := (int(size) + 7) &^ 7
	if n == 0 {
		n = 8
	}
	need += n
	if used+n > len(arena) {
		if used > 0 {
			b := make([]byte, n)
			extra = append(extra, b)
			return addr(b)
		}
		arena = make([]byte, max(n, 4096, 2*len(arena)))
	}
	b := arena[used : used+n]
	used += n
	return addr(b)
}

// reset releases cn_alloc's buffers; the next call gets an arena big
// enough for this one's.
func reset() {
	if len(extra) > 0 {
		arena = make([]byte, need)
		extra = nil
	}
	used, need = 0, 0
}

//go:wasmexport cn_manifest
func cnManifest() uint64 { return keep(ManifestJSON()) }

//go:wasmexport cn_hook
func cnHook(hookPtr, hookLen, callerPtr, callerLen, configPtr, configLen, reqPtr, reqLen, resPtr, resLen uint32) uint64 {
	c := Call{
		Hook:    string(view(hookPtr, hookLen)),
		Caller:  parseCaller(view(callerPtr, callerLen)),
		Config:  view(configPtr, configLen),
		Request: view(reqPtr, reqLen),
		Result:  view(resPtr, resLen),
	}
	out = DispatchCall(c, out[:0])
	reset()
	return keep(out)
}

//go:wasmexport cn_call
func cnCall(hookPtr, hookLen, inPtr, inLen uint32) uint64 {
	res := Dispatch(string(view(hookPtr, hookLen)), view(inPtr, inLen))
	reset()
	return keep(res)
}

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(&b[0]))) }

func view(ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), n)
}

func keep(b []byte) uint64 {
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

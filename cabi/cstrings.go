package main

/*
#cgo CFLAGS: -I${SRCDIR}/include
#define CN_NO_PROTOTYPES
#include "cassnet.h"
*/
import "C"

import (
	"strings"
	"unsafe"
)

// cstr reads a C string of at most max bytes without copying it: the
// result aliases C memory and must not outlive the call. ok is false for
// NULL; tooLong when no NUL comes within max bytes.
func cstr(p *C.char, max int) (s string, ok, tooLong bool) {
	if p == nil {
		return "", false, false
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(p)), max+1)
	for i := range b {
		if b[i] == 0 {
			return unsafe.String(&b[0], i), true, false
		}
	}
	return "", true, true
}

// arg reads a required string argument, copied, with its status.
func arg(p *C.char, max int) (string, C.cn_status) {
	s, ok, tooLong := cstr(p, max)
	switch {
	case tooLong:
		return "", C.CN_ERR_TOO_LARGE
	case !ok || s == "":
		return "", C.CN_ERR_INVALID_ARGUMENT
	}
	return strings.Clone(s), C.CN_OK
}

// opt reads an optional string argument: NULL is "".
func opt(p *C.char, max int) (string, C.cn_status) {
	if p == nil {
		return "", C.CN_OK
	}
	s, _, tooLong := cstr(p, max)
	if tooLong {
		return "", C.CN_ERR_TOO_LARGE
	}
	return strings.Clone(s), C.CN_OK
}

// fill copies s into a fixed C buffer of size bytes, NUL-terminated.
func fill(dst *C.char, size int, s string) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(dst)), size)
	n := copy(b[:size-1], s)
	b[n] = 0
}

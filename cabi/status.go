package main

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Status codes, as cn_status in cassnet.h.
const (
	stOK               = 0
	stStale            = 1
	stInvalidArgument  = 2
	stUnknownHandle    = 3
	stTooLarge         = 4
	stUnauthenticated  = 5
	stPermissionDenied = 6
	stNotFound         = 7
	stUnavailable      = 8
	stSessionInvalid   = 9
	stSessionExpired   = 10
	stSessionRevoked   = 11
	stBanned           = 12
	stInternal         = 13
	stConflict         = 14
)

// Limits, as in cassnet.h.
const (
	maxIDLen    = 128
	maxTokenLen = 4096
	maxPayload  = 1 << 20
	maxLabelLen = 317
)

// codeStatus maps an RPC error to a status.
func codeStatus(err error) int {
	if err == nil {
		return stOK
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return stUnavailable
	}
	switch status.Code(err) {
	case codes.InvalidArgument:
		return stInvalidArgument
	case codes.Unauthenticated:
		return stUnauthenticated
	case codes.PermissionDenied:
		return stPermissionDenied
	case codes.NotFound:
		return stNotFound
	case codes.ResourceExhausted:
		return stTooLarge
	case codes.FailedPrecondition:
		return stConflict
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return stUnavailable
	}
	return stInternal
}

// reasonStatus maps a session verification reason to a status.
func reasonStatus(reason string) int {
	switch reason {
	case "ok":
		return stOK
	case "expired":
		return stSessionExpired
	case "revoked":
		return stSessionRevoked
	case "banned":
		return stBanned
	}
	return stSessionInvalid
}

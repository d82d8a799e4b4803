package consensus

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// toStatus carries an *Error across gRPC: the code goes into the status
// message prefix so fromStatus can rebuild it.
func toStatus(err error) error {
	var ce *Error
	if errors.As(err, &ce) {
		return status.Error(codes.FailedPrecondition, ce.Code+"|"+ce.Message)
	}
	return status.Error(codes.Internal, err.Error())
}

// fromStatus turns a gRPC error back into an *Error where possible.
// Transport failures become ErrNoLeader, since the caller retries those
// against a freshly resolved leader.
func fromStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	if st.Code() == codes.FailedPrecondition {
		msg := st.Message()
		for i := 0; i < len(msg); i++ {
			if msg[i] == '|' {
				return codeError(msg[:i], msg[i+1:])
			}
		}
	}
	if st.Code() == codes.Canceled {
		return fmt.Errorf("%w: %s", context.Canceled, st.Message())
	}
	if st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded {
		return newError(ErrNoLeader, "leader unreachable: %s", st.Message())
	}
	return err
}

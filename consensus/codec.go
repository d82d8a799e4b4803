package consensus

import (
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/proto"
)

// CommandVersion is the envelope version this node writes and applies.
// A command with any other version is refused, never guessed at.
const CommandVersion = 1

// EncodeCommand serialises cmd for the Raft log. The error wraps ErrInvalid.
func EncodeCommand(cmd *cassnetv1.Command) ([]byte, error) {
	if cmd == nil {
		return nil, newError(ErrInvalid, "encode command: nil command")
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(cmd)
	if err != nil {
		return nil, newError(ErrInvalid, "encode command: %v", err)
	}
	return b, nil
}

// DecodeCommand parses a Raft log entry. It does not validate the command;
// see ValidateCommand. The error wraps ErrInvalid.
func DecodeCommand(b []byte) (*cassnetv1.Command, error) {
	cmd := new(cassnetv1.Command)
	if err := proto.Unmarshal(b, cmd); err != nil {
		return nil, newError(ErrInvalid, "decode command: %v", err)
	}
	return cmd, nil
}

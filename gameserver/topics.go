package gameserver

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cassandranet/cassnet/api"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// Publish implements GameServerService on api.Topics, in the caller's
// tenant, with the same limits as the REST route.
func (s *Server) Publish(ctx context.Context, req *cassnetv1.PublishRequest) (*cassnetv1.PublishResponse, error) {
	if s.topics == nil {
		return nil, topicStatus(api.ErrTopicsUnavailable)
	}
	ct := req.GetContentType()
	if ct == "" {
		ct = "application/octet-stream"
	}
	res, err := s.topics.Publish(ctx, principal(ctx).Tenant, req.GetTopic(), ct, req.GetPayload())
	if err != nil {
		return nil, topicStatus(err)
	}
	return &cassnetv1.PublishResponse{Id: res.ID, Seq: res.Seq}, nil
}

// Subscribe implements GameServerService: a thin adapter over the
// api.TopicStream that the REST SSE route also adapts.
func (s *Server) Subscribe(req *cassnetv1.SubscribeRequest, stream cassnetv1.GameServerService_SubscribeServer) error {
	if s.topics == nil {
		return topicStatus(api.ErrTopicsUnavailable)
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	go func() { // the node stopping ends the stream
		select {
		case <-s.ctx.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	sub, err := s.topics.Subscribe(ctx, principal(ctx).Tenant, req.GetTopic(), req.GetResumeFrom())
	if err != nil {
		return topicStatus(err)
	}
	defer sub.Close()
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				if s.ctx.Err() != nil {
					return status.Error(codes.Unavailable, "the node is stopping")
				}
				return status.FromContextError(ctx.Err()).Err()
			}
			return status.Errorf(codes.Aborted, "subscription ended: %v", err)
		}
		if err := stream.Send(&cassnetv1.TopicEvent{
			Kind: ev.Kind, Id: ev.ID, Seq: ev.Seq, ContentType: ev.ContentType, Payload: ev.Payload,
			PublishedUnixMs: ev.Published.UnixMilli(), GapFrom: ev.From, GapTo: ev.To, Reason: ev.Reason,
		}); err != nil {
			return err
		}
	}
}

// topicStatus maps the Topics contract's errors to gRPC codes.
func topicStatus(err error) error {
	switch {
	case errors.Is(err, api.ErrTopicInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, api.ErrTopicTooLarge):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, api.ErrTopicsUnavailable):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Errorf(codes.Internal, "topic: %v", err)
}

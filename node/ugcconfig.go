package node

import (
	"time"

	"github.com/cassandranet/cassnet/ugc/blob"
)

// UGCConfig configures the byte side of user-generated content (package
// ugc/blob). None of it is replicated or persisted: S3 credentials in
// particular come from the node's environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY) or S3.CredentialsFile, never from Raft.
type UGCConfig struct {
	// S3 enables the s3 store when S3.Endpoint is set; every node of the
	// cluster needs the same bucket and prefix.
	S3 blob.S3Config
	// MaxUploadBytes bounds one upload (0: blob.DefaultMaxUploadBytes,
	// 512 MiB); a project's settings may lower it, never raise it.
	MaxUploadBytes int64
	// PublicURL is the base URL game clients reach this node's REST API at
	// (upload and download URLs start with it). Empty: the node's own
	// REST address (scheme, advertise address, HTTP port).
	PublicURL string
	// GCInterval is how often the node deletes the unreferenced blobs it
	// holds (the leader also those on s3). Zero: 30 s. Expired uploads are
	// collected by the blob service's own pass, every minute: a faster one
	// would turn a version the state machine marks expired into one
	// rejected as "expired before it was complete".
	GCInterval time.Duration
}

// S3Config is the s3 store's configuration, nil when it is off.
func (c UGCConfig) S3Config() *blob.S3Config {
	if c.S3.Endpoint == "" {
		return nil
	}
	s := c.S3
	return &s
}

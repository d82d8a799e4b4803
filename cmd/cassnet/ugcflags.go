package main

import (
	"flag"
	"time"

	"github.com/cassandranet/cassnet/node"
)

// ugcFlags registers the UGC blob store's flags (docs/ugc-storage.md).
// As every agent flag, each is also a config file key and a CASS_*
// variable; the S3 credentials are neither: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, or --ugc-s3-credentials-file.
func ugcFlags(fs *flag.FlagSet, c *node.UGCConfig) {
	fs.StringVar(&c.S3.Endpoint, "ugc-s3-endpoint", "", "UGC s3 store: S3-compatible endpoint URL, e.g. https://s3.eu-west-1.amazonaws.com (empty: s3 store off; blobs stay local)")
	fs.StringVar(&c.S3.Bucket, "ugc-s3-bucket", "", "UGC s3 store: bucket (the same on every node)")
	fs.StringVar(&c.S3.Prefix, "ugc-s3-prefix", "", "UGC s3 store: key prefix inside the bucket, e.g. cassnet/")
	fs.StringVar(&c.S3.Region, "ugc-s3-region", "", "UGC s3 store: region (empty: us-east-1)")
	fs.StringVar(&c.S3.CredentialsFile, "ugc-s3-credentials-file", "", "UGC s3 store: AWS shared credentials file ([default] aws_access_key_id, aws_secret_access_key); empty: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	fs.BoolVar(&c.S3.PathStyle, "ugc-s3-path-style", false, "UGC s3 store: path-style bucket addressing (MinIO, versitygw, most self-hosted servers)")
	fs.Int64Var(&c.MaxUploadBytes, "ugc-max-upload-bytes", 0, "largest UGC upload in bytes (0: 512 MiB)")
	fs.DurationVar(&c.GCInterval, "ugc-gc-interval", 30*time.Second, "how often the node deletes the UGC blobs it holds that nothing references any more (the leader also those on s3)")
	fs.StringVar(&c.PublicURL, "ugc-public-url", "", "base URL game clients reach this node's REST API at, for UGC upload and download URLs (empty: the node's own REST address)")
}

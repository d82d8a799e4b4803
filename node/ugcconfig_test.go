package node

import (
	"strings"
	"testing"
	"time"
)

func TestUGCConfigValidate(t *testing.T) {
	c := Defaults()
	c.DataDir, c.Name = "/tmp/x", "n1"
	for _, d := range []time.Duration{0, 100 * time.Millisecond, time.Second, time.Hour} {
		c.UGC.GCInterval = d
		if err := c.validate(); err != nil {
			t.Fatalf("--ugc-gc-interval %s: %v", d, err)
		}
	}
	for _, d := range []time.Duration{-time.Second, time.Millisecond} {
		c.UGC.GCInterval = d
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), "--ugc-gc-interval") {
			t.Fatalf("--ugc-gc-interval %s: err = %v", d, err)
		}
	}
	c.UGC.GCInterval = 0
	if c.UGC.S3Config() != nil {
		t.Fatal("s3 on without an endpoint")
	}
	c.UGC.S3.Endpoint, c.UGC.S3.Bucket = "http://127.0.0.1:7070", "ugc"
	if s := c.UGC.S3Config(); s == nil || s.Bucket != "ugc" {
		t.Fatalf("S3Config() = %+v", s)
	}
}

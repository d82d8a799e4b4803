package streamclient_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/cassandranet/cassnet/streamclient"
)

// A chat relay: it publishes what its players say and follows the topic,
// resuming after a failure from its last event id on whichever node it
// reaches.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nodes := []string{"http://127.0.0.1:8080", "http://127.0.0.2:8080"}
	const apiKey = "cn_key_..." // a game-server or tenant-admin key
	last := ""                  // the resume position; "" is "from now on"
	for attempt := 0; ctx.Err() == nil; attempt++ {
		c, err := streamclient.Dial(ctx, streamclient.Config{
			URL: nodes[attempt%len(nodes)], Tenant: "studio", Credential: apiKey,
		})
		if err != nil {
			log.Printf("dial: %v", err)
			time.Sleep(time.Second)
			continue
		}
		sub, err := c.Subscribe(ctx, "match.42.chat", last, 0)
		if err != nil {
			c.Close()
			continue
		}
		if _, err := c.Publish(ctx, "match.42.chat", "text/plain", []byte("gl hf")); err != nil {
			log.Printf("publish: %v", err) // its outcome is unknown if the connection failed
		}
		for {
			ev, err := sub.Next(ctx)
			if err != nil {
				if errors.Is(err, streamclient.ErrEnded) {
					log.Printf("the node ended the subscription: %v", err)
				}
				break
			}
			switch ev.Kind {
			case "message":
				fmt.Printf("%s says %s\n", ev.Origin, ev.Payload)
			case "gap":
				log.Printf("messages %d..%d of %s are lost for good", ev.From, ev.To, ev.Origin)
			case "reset":
				log.Printf("resume position lost (%s): resynchronise", ev.Reason)
			}
		}
		last = sub.LastEventID()
		c.Close()
	}
}

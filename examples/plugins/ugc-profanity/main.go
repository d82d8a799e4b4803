// Command ugc-profanity is an example CassandraNet plugin. Its
// before_ugc_item_create hook rejects an item whose title (or
// description) contains one of the words of its config, ignoring case:
//
//	{"words": ["badword", "worse"]}
package main

import (
	"strings"

	"github.com/cassandranet/cassnet/pluginsdk"
)

type item struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

type config struct {
	Words []string `json:"words"`
}

func init() {
	pluginsdk.Manifest("ugc-profanity", "1.0.0")
	pluginsdk.Handle("before_ugc_item_create", check)
}

func check(c pluginsdk.Call) pluginsdk.Result {
	var it item
	if err := c.Decode(&it); err != nil {
		return pluginsdk.Reject(400, "ugc-profanity: unreadable request")
	}
	var cfg config
	if err := c.DecodeConfig(&cfg); err != nil {
		return pluginsdk.Reject(400, "ugc-profanity: bad config")
	}
	title, desc := strings.ToLower(it.Title), strings.ToLower(it.Description)
	for _, w := range cfg.Words {
		if w = strings.ToLower(strings.TrimSpace(w)); w == "" {
			continue
		}
		if strings.Contains(title, w) || strings.Contains(desc, w) {
			return pluginsdk.Reject(422, "ugc-profanity: the item's title or description contains a word this project does not allow")
		}
	}
	return pluginsdk.Allow()
}

func main() {}

//go:build !wasip1

package pluginsdk

import (
	"fmt"
	"os"
	"time"
)

// Outside a wasm host (unit tests of a plugin's logic), logs go to stderr
// and the clock is the system's.
func logf(level int32, msg string) { fmt.Fprintf(os.Stderr, "plugin log %d: %s\n", level, msg) }

func now() int64 { return time.Now().UnixNano() }

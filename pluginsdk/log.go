package pluginsdk

import (
	"fmt"
	"time"
)

// Log levels, as the host maps them to slog.
const (
	LevelDebug int32 = -4
	LevelInfo  int32 = 0
	LevelWarn  int32 = 4
	LevelError int32 = 8
)

// Logf logs through the host (slog, with the plugin's name and tenant).
// The host bounds how much a call may log.
func Logf(level int32, format string, args ...any) { logf(level, fmt.Sprintf(format, args...)) }

// Now is the host's wall clock.
func Now() time.Time { return time.Unix(0, now()) }

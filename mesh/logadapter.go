package mesh

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// logWriter is the io.Writer behind the *log.Logger that memberlist
// requires. memberlist writes one line per call, normally shaped
// "[LEVEL] memberlist: message"; logWriter turns the bracketed level into
// an slog level, strips the prefix and re-emits the message through slog
// with component=memberlist.
//
// observe, if set, sees every message (without prefix) before it is
// filtered by level. Mesh uses it to notice its own failed probes, which
// memberlist reports nowhere else (see roster.suspectFromLog).
type logWriter struct {
	logger  *slog.Logger
	observe func(msg string)
}

// newMemberlistLogger returns a *log.Logger for memberlist.Config.Logger
// that writes into logger.
func newMemberlistLogger(logger *slog.Logger, observe func(string)) *log.Logger {
	return log.New(&logWriter{logger: logger, observe: observe}, "", 0)
}

// Write implements io.Writer. It never fails.
func (w *logWriter) Write(p []byte) (int, error) {
	for line := range strings.SplitSeq(strings.TrimRight(string(p), "\r\n"), "\n") {
		level, msg := parseMemberlistLine(line)
		if msg == "" {
			continue
		}
		if w.observe != nil {
			w.observe(msg)
		}
		ctx := context.Background()
		if w.logger.Enabled(ctx, level) {
			w.logger.Log(ctx, level, msg, "component", "memberlist")
		}
	}
	return len(p), nil
}

// parseMemberlistLine splits "[LEVEL] memberlist: msg" into an slog level
// and "msg". Lines without a recognised level are logged at Info; lines
// without the "memberlist: " prefix keep their text.
func parseMemberlistLine(line string) (slog.Level, string) {
	line = strings.TrimSpace(line)
	level := slog.LevelInfo
	if strings.HasPrefix(line, "[") {
		if end := strings.IndexByte(line, ']'); end > 0 {
			known := true
			switch strings.ToUpper(line[1:end]) {
			case "TRACE", "DEBUG":
				level = slog.LevelDebug
			case "INFO":
				level = slog.LevelInfo
			case "WARN", "WARNING":
				level = slog.LevelWarn
			case "ERR", "ERROR":
				level = slog.LevelError
			default:
				known = false
			}
			if known {
				line = strings.TrimSpace(line[end+1:])
			}
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	return level, line
}

package mesh

import (
	"context"
	"log/slog"
	"sync"
	"testing"
)

func TestParseMemberlistLine(t *testing.T) {
	tests := []struct {
		in        string
		wantLevel slog.Level
		wantMsg   string
	}{
		{"[DEBUG] memberlist: Stream connection from=1.2.3.4:5", slog.LevelDebug, "Stream connection from=1.2.3.4:5"},
		{"[TRACE] memberlist: x", slog.LevelDebug, "x"},
		{"[INFO] memberlist: Suspect a has failed, no acks received", slog.LevelInfo, "Suspect a has failed, no acks received"},
		{"[WARN] memberlist: Refuting a suspect message (from: b)", slog.LevelWarn, "Refuting a suspect message (from: b)"},
		{"[ERR] memberlist: Failed to send", slog.LevelError, "Failed to send"},
		{"[ERROR] memberlist: boom", slog.LevelError, "boom"},
		{"[ERR] Failed to shutdown transport: x", slog.LevelError, "Failed to shutdown transport: x"},
		{"Err: Could not set the deadline: x", slog.LevelInfo, "Err: Could not set the deadline: x"},
		{"[odd] memberlist: y", slog.LevelInfo, "[odd] memberlist: y"},
		{"  [WARN] memberlist: padded \n", slog.LevelWarn, "padded"},
	}
	for _, tt := range tests {
		level, msg := parseMemberlistLine(tt.in)
		if level != tt.wantLevel || msg != tt.wantMsg {
			t.Errorf("parse(%q) = %v %q, want %v %q", tt.in, level, msg, tt.wantLevel, tt.wantMsg)
		}
	}
}

type recordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func TestMemberlistLoggerRoutesToSlog(t *testing.T) {
	h := &recordHandler{}
	var seen []string
	l := newMemberlistLogger(slog.New(h), func(msg string) { seen = append(seen, msg) })
	l.Printf("[WARN] memberlist: first %d", 1)
	l.Printf("[DEBUG] memberlist: second")
	if len(h.recs) != 2 {
		t.Fatalf("%d records", len(h.recs))
	}
	if h.recs[0].Level != slog.LevelWarn || h.recs[0].Message != "first 1" {
		t.Fatalf("record 0 = %v %q", h.recs[0].Level, h.recs[0].Message)
	}
	if h.recs[1].Level != slog.LevelDebug {
		t.Fatalf("record 1 level %v", h.recs[1].Level)
	}
	var comp string
	h.recs[0].Attrs(func(a slog.Attr) bool {
		if a.Key == "component" {
			comp = a.Value.String()
		}
		return true
	})
	if comp != "memberlist" {
		t.Fatalf("component = %q", comp)
	}
	if len(seen) != 2 || seen[1] != "second" {
		t.Fatalf("observed %q", seen)
	}
}

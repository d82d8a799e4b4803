package supervisor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Log limits. A line longer than maxLine is split.
const (
	ringBytes   = 1 << 20  // per server, in memory
	fileBytes   = 10 << 20 // per log file before rotation
	filesKept   = 3        // rotated files kept besides the current one
	maxLine     = 16 << 10
	followQueue = 256
	// The log files of removed servers: those of the last keepRemoved
	// stay, and at start the node deletes files untouched for keepLogsFor.
	keepRemoved = 64
	keepLogsFor = 24 * time.Hour
)

// sink keeps one server's output: a ring of recent lines bounded by bytes,
// a log file rotated by size, and the followers. Safe for concurrent use.
type sink struct {
	path      string // Dir/<server>.log
	ringMax   int
	fileMax   int64
	mu        sync.Mutex
	lines     []LogLine // ring: oldest at head
	head, n   int
	bytes     int
	file      *os.File
	fileSize  int64
	fileErr   error
	followers map[chan LogLine]struct{}
	closed    bool
	done      chan struct{} // closed by close
}

func newSink(dir, id string) *sink {
	return &sink{path: filepath.Join(dir, id+".log"), ringMax: ringBytes, fileMax: fileBytes,
		followers: map[chan LogLine]struct{}{}, done: make(chan struct{})}
}

// read copies r into the sink line by line until EOF.
func (k *sink) read(r io.Reader, stream string) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, _, err := br.ReadLine() // a prefix of a longer line counts as a line
		if len(line) > 0 || err == nil {
			k.add(LogLine{Time: time.Now(), Stream: stream, Text: string(line)})
		}
		if err != nil {
			return
		}
	}
}

func lineSize(l LogLine) int { return len(l.Text) + 32 }

func (k *sink) add(l LogLine) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return
	}
	// Ring: drop the oldest lines until this one fits.
	for k.n > 0 && k.bytes+lineSize(l) > k.ringMax {
		k.bytes -= lineSize(k.lines[k.head])
		k.lines[k.head] = LogLine{}
		k.head = (k.head + 1) % len(k.lines)
		k.n--
	}
	if k.n == len(k.lines) {
		grown := make([]LogLine, max(64, 2*len(k.lines)))
		for i := 0; i < k.n; i++ {
			grown[i] = k.lines[(k.head+i)%len(k.lines)]
		}
		k.lines, k.head = grown, 0
	}
	k.lines[(k.head+k.n)%len(k.lines)] = l
	k.n++
	k.bytes += lineSize(l)
	k.write(l)
	for ch := range k.followers {
		select {
		case ch <- l:
		default: // a slow follower loses lines
		}
	}
}

// write appends l to the log file, rotating it by size. Errors are kept
// (the first one shows in the supervisor's log) and retried on the next
// rotation.
func (k *sink) write(l LogLine) {
	if k.file == nil {
		f, err := os.OpenFile(k.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			k.fileErr = err
			return
		}
		fi, _ := f.Stat()
		k.file, k.fileSize = f, fi.Size()
	}
	n, err := fmt.Fprintf(k.file, "%s %s %s\n", l.Time.UTC().Format(time.RFC3339Nano), l.Stream, l.Text)
	k.fileSize += int64(n)
	if err != nil {
		k.fileErr = err
	}
	if k.fileSize >= k.fileMax {
		k.rotate()
	}
}

// rotate renames <id>.log to <id>.log.1, shifting older files and
// dropping the one past filesKept.
func (k *sink) rotate() {
	_ = k.file.Close()
	k.file = nil
	for i := filesKept; i >= 1; i-- {
		from := k.path
		if i > 1 {
			from = fmt.Sprintf("%s.%d", k.path, i-1)
		}
		_ = os.Rename(from, fmt.Sprintf("%s.%d", k.path, i))
	}
}

// tail answers the last n lines (n <= 0: all).
func (k *sink) tail(n int) []LogLine {
	k.mu.Lock()
	defer k.mu.Unlock()
	if n <= 0 || n > k.n {
		n = k.n
	}
	out := make([]LogLine, n)
	for i := 0; i < n; i++ {
		out[i] = k.lines[(k.head+k.n-n+i)%len(k.lines)]
	}
	return out
}

// follow registers a follower until ctx is done or the sink is closed.
func (k *sink) follow(ctx context.Context) <-chan LogLine {
	ch := make(chan LogLine, followQueue)
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		close(ch)
		return ch
	}
	k.followers[ch] = struct{}{}
	k.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
		case <-k.done:
			return // close closed ch
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		if _, ok := k.followers[ch]; ok {
			delete(k.followers, ch)
			close(ch)
		}
	}()
	return ch
}

// close ends the followers and closes the file; later lines are dropped.
func (k *sink) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return
	}
	k.closed = true
	close(k.done)
	for ch := range k.followers {
		delete(k.followers, ch)
		close(ch)
	}
	if k.file != nil {
		_ = k.file.Close()
		k.file = nil
	}
}

// removeLogs deletes a server's log files.
func removeLogs(dir, id string) {
	base := filepath.Join(dir, id+".log")
	_ = os.Remove(base)
	for i := 1; i <= filesKept; i++ {
		_ = os.Remove(fmt.Sprintf("%s.%d", base, i))
	}
}

// pruneLogs deletes log files in dir last written before cutoff.
func pruneLogs(dir string, cutoff time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.Contains(e.Name(), ".log") {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

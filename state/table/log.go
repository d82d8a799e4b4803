package table

// logChunk is how many entries a Log chunk holds.
const logChunk = 256

// Log is a persistent append-only sequence that forgets from the front:
// the shape of an audit log. The zero Log is empty.
//
// Concurrency contract: any number of goroutines may read any version;
// Append and TrimTo must be called by one writer, and only on the newest
// version (or on a version derived from it that was then dropped unseen,
// such as a failed transaction's). A version never changes once returned:
// Append writes only past the ends of older versions, which never read
// there, and TrimTo only moves the front.
type Log[T any] struct {
	chunks []*[logChunk]T
	start  int // offset of the oldest entry in chunks[0]
	n      int
}

// Len is the number of entries.
func (l Log[T]) Len() int { return l.n }

// Append returns the log with v added at the end.
func (l Log[T]) Append(v T) Log[T] {
	pos := l.start + l.n
	ci := pos / logChunk
	if ci == len(l.chunks) {
		l.chunks = append(l.chunks, new([logChunk]T))
	}
	l.chunks[ci][pos%logChunk] = v
	l.n++
	return l
}

// TrimTo returns the log without its oldest entries beyond max.
func (l Log[T]) TrimTo(max int) Log[T] {
	if max < 0 {
		max = 0
	}
	if l.n <= max {
		return l
	}
	l.start += l.n - max
	l.n = max
	for l.start >= logChunk {
		l.chunks = l.chunks[1:]
		l.start -= logChunk
	}
	if l.n == 0 {
		return Log[T]{}
	}
	return l
}

func (l Log[T]) at(i int) T {
	pos := l.start + i
	return l.chunks[pos/logChunk][pos%logChunk]
}

// Each calls fn for every entry, oldest first, until fn returns false.
func (l Log[T]) Each(fn func(v T) bool) {
	for i := 0; i < l.n; i++ {
		if !fn(l.at(i)) {
			return
		}
	}
}

// EachReverse calls fn for every entry, newest first, until fn returns
// false.
func (l Log[T]) EachReverse(fn func(v T) bool) {
	for i := l.n - 1; i >= 0; i-- {
		if !fn(l.at(i)) {
			return
		}
	}
}

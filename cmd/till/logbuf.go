package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logFlushEvery is how long a log line may wait in the buffer. Serving a
// request logs a line at info (every one but the polls); writing each to
// stderr alone cost one write(2) per request, 5–20 % of session throughput
// under load (docs/BENCHMARKS.md, issue 12).
const logFlushEvery = 100 * time.Millisecond

// logBuffer batches log lines into few writes: at most logFlushEvery late,
// at once when 32 KiB have gathered, and everything at Close. Lines are
// never split (slog writes a whole line per call).
type logBuffer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	done chan struct{}
	wg   sync.WaitGroup
}

func newLogBuffer(w io.Writer) *logBuffer {
	b := &logBuffer{w: bufio.NewWriterSize(w, 32<<10), done: make(chan struct{})}
	b.wg.Add(1)
	go b.flushLoop()
	return b
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *logBuffer) flushLoop() {
	defer b.wg.Done()
	t := time.NewTicker(logFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.flush()
		case <-b.done:
			return
		}
	}
}

func (b *logBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.w.Flush()
}

// Close stops the timer and writes what is left.
func (b *logBuffer) Close() error {
	close(b.done)
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Flush()
}

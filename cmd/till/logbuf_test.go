package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the flusher and the test to share.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) snapshot() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String(), s.writes
}

func TestLogBuffer(t *testing.T) {
	t.Run("a line reaches the writer without Close", func(t *testing.T) {
		out := &syncBuffer{}
		b := newLogBuffer(out)
		defer b.Close()
		fmt.Fprintln(b, "hello")
		deadline := time.Now().Add(10 * time.Second)
		for {
			if s, _ := out.snapshot(); s == "hello\n" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the line was never flushed")
			}
			time.Sleep(10 * time.Millisecond) // polling a condition, not standing in for one
		}
	})
	t.Run("many lines from many goroutines: whole lines, few writes, all at Close", func(t *testing.T) {
		out := &syncBuffer{}
		b := newLogBuffer(out)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 500 {
					fmt.Fprintf(b, "goroutine=%d line=%d %s\n", g, i, strings.Repeat("x", 40))
				}
			}()
		}
		wg.Wait()
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		s, writes := out.snapshot()
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		if len(lines) != 4000 {
			t.Fatalf("got %d lines, want 4000", len(lines))
		}
		for _, l := range lines {
			if !strings.HasPrefix(l, "goroutine=") || !strings.HasSuffix(l, strings.Repeat("x", 40)) {
				t.Fatalf("torn line %q", l)
			}
		}
		if writes >= 4000/10 {
			t.Errorf("%d writes for 4000 lines: not batched", writes)
		}
	})
}

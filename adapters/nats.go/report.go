package main

// Reports to jsbench (stdout): one writer goroutine owns stdout.
//
// Reporters (the publisher: s lines, probe answers; one goroutine per future: a/e lines) append
// to one queue under a mutex, and the writer takes the whole queue at once, formats it into a big
// bufio.Writer and flushes when the queue is empty. A channel wakes the writer, but only when a
// report lands in an empty queue: at high rates one wake-up and one write carry hundreds of
// lines, where a channel send per report cost a wake-up (and often a write) per line. Nothing is
// held back (every report that finds the queue empty wakes the writer, which flushes before it
// sleeps again); lines never interleave; the order of the queue is the order of the reports, so
// an s appended before its future's goroutine starts is written before that future's a or e.
// A line never straddles two writes (the buffer is flushed first when the line does not fit).

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// origin is the adapter's clock origin: times are time.Since(origin) in ns, on Go's monotonic
// clock (time.Now carries a monotonic reading and time.Since uses it).
var origin = time.Now()

// now is the adapter's clock, in ns since start.
func now() int64 { return int64(time.Since(origin)) }

// report is one line to jsbench, kept as plain fields so that sending it allocates nothing;
// the writer formats it.
type report struct {
	verb  byte   // 's', 'a', 'e', 'c'; 0 ends the writer
	id    uint64 // publish id, or probe number for 'c'
	t0    int64  // s: call entered; a, e, c: the time
	t1    int64  // s: call returned
	seq   uint64 // a: stream sequence
	dup   bool   // a: duplicate
	class byte   // e: 'd' or 'i'
	code  int    // e: API error code, 503, or 0
	kind  string // e: [a-z0-9_]+
	text  string // e: the client's text
}

// writer owns stdout.
type writer struct {
	mu    sync.Mutex
	queue []report      // reports not yet taken by the writer, in order
	wake  chan struct{} // a report landed in an empty queue (capacity 1)
	done  chan struct{} // closed when the writer stopped
}

const outBuffer = 256 << 10 // stdout buffer: bursts coalesce into writes this big

func newWriter() *writer {
	w := &writer{queue: make([]report, 0, 4096), wake: make(chan struct{}, 1), done: make(chan struct{})}
	go w.run()
	return w
}

// put queues a report.
func (w *writer) put(r report) {
	w.mu.Lock()
	w.queue = append(w.queue, r)
	first := len(w.queue) == 1
	w.mu.Unlock()
	if first {
		select {
		case w.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// take swaps the queue for the writer's empty batch.
func (w *writer) take(batch []report) []report {
	w.mu.Lock()
	batch, w.queue = w.queue, batch[:0]
	w.mu.Unlock()
	return batch
}

// run writes reports until it meets the end marker (verb 0).
func (w *writer) run() {
	bw := bufio.NewWriterSize(os.Stdout, outBuffer)
	line := make([]byte, 0, 512)
	batch := make([]report, 0, 4096)
	for range w.wake {
		for {
			batch = w.take(batch)
			if len(batch) == 0 {
				// Let the goroutines that are ready to run (futures that just resolved, the
				// publisher) run once, so that their reports join this write. Gosched returns at
				// once when nothing else is runnable: nothing waits for input or the client here.
				runtime.Gosched()
				if batch = w.take(batch); len(batch) == 0 {
					break
				}
			}
			for i := range batch {
				if batch[i].verb == 0 {
					flushOrDie(bw)
					close(w.done)
					return
				}
				line = format(line[:0], &batch[i])
				if bw.Available() < len(line) {
					flushOrDie(bw)
				}
				_, _ = bw.Write(line) // a write error surfaces in flushOrDie
			}
		}
		flushOrDie(bw)
	}
}

// flushOrDie flushes stdout. A failed write means jsbench is gone (it reads stdout until the
// adapter exits): nothing is left to report to, so exit.
func flushOrDie(bw *bufio.Writer) {
	if err := bw.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "jsbench-nats.go: writing stdout:", err)
		os.Exit(1)
	}
}

// finish writes out every report queued so far and stops the writer, waiting at most `limit`
// (a writer stuck on a full pipe must not keep the adapter from exiting).
func (w *writer) finish(limit time.Duration) {
	w.put(report{})
	select {
	case w.wake <- struct{}{}:
	default:
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
	}
}

// format appends r's line, newline included.
func format(b []byte, r *report) []byte {
	b = append(b, r.verb, ' ')
	b = strconv.AppendUint(b, r.id, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.t0, 10)
	switch r.verb {
	case 's':
		b = append(b, ' ')
		b = strconv.AppendInt(b, r.t1, 10)
	case 'a':
		b = append(b, ' ')
		b = strconv.AppendUint(b, r.seq, 10)
		if r.dup {
			b = append(b, " 1"...)
		} else {
			b = append(b, " 0"...)
		}
	case 'e':
		b = append(b, ' ', r.class, ' ')
		b = strconv.AppendInt(b, int64(r.code), 10)
		b = append(b, ' ')
		b = append(b, r.kind...)
		b = append(b, ' ')
		b = append(b, oneLine(r.text)...)
	}
	return append(b, '\n')
}

// oneLine replaces line breaks so that a client's text cannot break the line protocol.
func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	}
	return s
}

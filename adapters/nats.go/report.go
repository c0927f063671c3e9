package main

// Reports to jsbench (stdout): one writer goroutine owns stdout, fed by a channel.
//
// Why one goroutine and a channel: the reader goroutine (s lines, probe answers) and one
// goroutine per future (a/e lines) all report, and lines must never interleave. The writer
// formats each report into a big bufio.Writer and flushes whenever the channel is momentarily
// empty: nothing is held back while the adapter waits (the contract's "never hold a report
// back"), yet a burst of acks leaves in few large writes. A line never straddles two writes
// (the buffer is flushed first when the line does not fit), so every write holds whole lines.

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
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
	ch   chan report
	done chan struct{}
}

const (
	reportQueue = 1 << 16   // reports waiting for the writer
	outBuffer   = 256 << 10 // stdout buffer: bursts coalesce into writes this big
)

func newWriter() *writer {
	w := &writer{ch: make(chan report, reportQueue), done: make(chan struct{})}
	go w.run()
	return w
}

// run formats reports until it gets the end marker (verb 0), flushing whenever no further
// report is waiting.
func (w *writer) run() {
	bw := bufio.NewWriterSize(os.Stdout, outBuffer)
	line := make([]byte, 0, 512)
	for r := range w.ch {
		var ok bool
		for {
			if r.verb == 0 {
				flushOrDie(bw)
				close(w.done)
				return
			}
			line = format(line[:0], &r)
			if bw.Available() < len(line) {
				flushOrDie(bw)
			}
			_, _ = bw.Write(line) // a write error surfaces in flushOrDie
			if r, ok = w.another(); ok {
				continue
			}
			break
		}
		flushOrDie(bw)
	}
}

// another returns the next report if one is waiting, after letting the goroutines that are
// ready to run (futures that just resolved, the publisher) run once: their reports then join
// this write instead of costing a write each. Gosched returns at once when nothing else is
// runnable, so a report is never held back while the adapter waits for input or for its client.
func (w *writer) another() (report, bool) {
	select {
	case r := <-w.ch:
		return r, true
	default:
	}
	runtime.Gosched()
	select {
	case r := <-w.ch:
		return r, true
	default:
		return report{}, false
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
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case w.ch <- report{}:
	case <-t.C:
		return
	}
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

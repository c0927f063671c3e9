// jsbench-nats.go: a jsbench adapter (docs/adapters.md, protocol 1) that publishes with
// nats.go the way the analysis's natsEventBus does: one *nats.Conn per connection,
// nc.JetStream(nats.PublishAsyncMaxPending(N)), js.PublishAsync with nats.MsgId and a goroutine
// per future selecting on Ok() and Err(); js.Publish in sync mode.
//
// Goroutines: stdin (reads chunks, sees the end of input), the publisher (parses lines, makes
// the publish calls, answers probes), one per future, and the stdout writer.
package main

import (
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"
)

const (
	// drainWait is how long the end of input waits for the client to resolve what is pending:
	// the contract allows 5 s to exit, and futures of nats.go 1.22.1 may never resolve.
	drainWait = 2 * time.Second
	// watchdogDelay bounds the exit when the publisher is stuck in a publish call (a socket
	// write to a server that stopped reading) and cannot see the end of input.
	watchdogDelay = 4 * time.Second
)

// out is the writer once init is answered (for the watchdog).
var out atomic.Pointer[writer]

func main() {
	tuneGC()
	in := newLines(readStdin(armWatchdog))
	line, err := in.next()
	if err != nil {
		logf("no init message: %v", err)
		os.Exit(1)
	}
	cfg, err := parseInit(line)
	if err != nil {
		fail(err)
	}
	conns, err := connectAll(cfg)
	if err != nil {
		fail(err)
	}
	answerInit(cfg)
	w := newWriter()
	out.Store(w)
	p := &publisher{cfg: cfg, conns: conns, out: w, subjects: interner{}}
	runErr := p.run(in)
	if runErr != nil {
		logf("%v", runErr)
	} else {
		waitPending(p)
	}
	t := time.Now()
	closeAll(conns)
	logf("connections closed in %v", time.Since(t).Round(time.Millisecond))
	w.finish(time.Second)
	if runErr != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// waitPending waits up to drainWait for the client to resolve what is pending.
func waitPending(p *publisher) {
	deadline := time.Now().Add(drainWait)
	for p.pending.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := p.pending.Load(); n > 0 {
		logf("end of input: %d publishes still unresolved by the client after %v", n, drainWait)
	}
}

// armWatchdog runs when stdin ends: if the publisher has not exited by watchdogDelay, write
// out what was reported and exit anyway.
func armWatchdog() {
	time.AfterFunc(watchdogDelay, func() {
		logf("end of input: a publish call was still blocked after %v; exiting", watchdogDelay)
		if w := out.Load(); w != nil {
			w.finish(500 * time.Millisecond)
		}
		os.Exit(0)
	})
}

// tuneGC makes the garbage collector run less often (GOGC=400, under a 512 MiB soft memory
// limit) unless GOGC or GOMEMLIMIT is set. Why: every publish allocates a little (the client's
// Msg, future and its two channels, the reply's JSON decoding, the goroutine), while the live
// heap stays small, so at the default GOGC=100 the collector runs very often; the reference
// publisher it is compared with keeps all its payloads live, which makes its collections rare.
// The limit keeps memory bounded when many futures never resolve (each keeps a goroutine).
func tuneGC() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(400)
		debug.SetMemoryLimit(512 << 20)
	}
}

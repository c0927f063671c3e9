package main

// Publishing: the analysis's natsEventBus, as an application writes it with nats.go.
//
//	f, err := js.PublishAsync(subject, data, nats.MsgId(id))
//	go func() {
//		select {
//		case ack := <-f.Ok(): …
//		case err := <-f.Err(): …
//		}
//	}()
//
// and js.Publish for sync. Nothing is added around the client: no timeout of the adapter's
// own, no retry, no reconnect logic; what the client does is what is measured.

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/nats-io/nats.go"
)

// publisher publishes what the p lines say, on the publisher goroutine.
type publisher struct {
	cfg      *config
	conns    []conn
	out      *writer
	subjects interner
	pending  atomic.Int64 // publishes not yet resolved (reported with a or e)
}

var errVerb = errors.New("unknown line (want p or c)")

// run handles lines until the end of input (nil) or a line it cannot parse (an error).
func (p *publisher) run(in *lines) error {
	for {
		if inputEnded.Load() {
			if n := in.dropRest(); n > 0 {
				logf("end of input: %d lines read before it were not handled", n)
			}
			return nil
		}
		line, err := in.next()
		if err != nil {
			return nil // io.EOF, or a read error already logged by the stdin goroutine
		}
		if len(line) == 0 {
			continue
		}
		if len(line) < 3 || line[1] != ' ' {
			return badLine(line, errVerb)
		}
		switch line[0] {
		case 'p':
			pl, err := parsePub(line[2:], len(p.conns))
			if err == nil {
				err = putTag(p.cfg.payload, pl.tag)
			}
			if err != nil {
				return badLine(line, err)
			}
			if p.cfg.async {
				p.publishAsync(&pl)
			} else {
				p.publishSync(&pl)
			}
		case 'c':
			n, err := parseUint(line[2:])
			if err != nil {
				return badLine(line, err)
			}
			p.out.put(report{verb: 'c', id: n, t0: now()})
		default:
			return badLine(line, errVerb)
		}
	}
}

func badLine(line []byte, err error) error {
	if len(line) > 200 {
		line = line[:200]
	}
	return fmt.Errorf("input line %q: %v", line, err)
}

// publishAsync is js.PublishAsync and a goroutine per future.
//
// The payload buffer is reused for every message: nc.publish copies the bytes into the
// connection's write buffer (or its reconnect buffer) before PublishAsync returns, and the
// future's Msg() is never read, so the wire bytes are those of a fresh slice per message.
func (p *publisher) publishAsync(pl *pubLine) {
	js := p.conns[pl.conn].js
	subject := p.subjects.get(pl.subject)
	p.pending.Add(1)
	var f nats.PubAckFuture
	var err error
	var t0 int64
	if pl.msgid == nil {
		t0 = now()
		f, err = js.PublishAsync(subject, p.cfg.payload)
	} else {
		id := nats.MsgId(string(pl.msgid))
		t0 = now()
		f, err = js.PublishAsync(subject, p.cfg.payload, id)
	}
	t1 := now()
	p.out.put(report{verb: 's', id: pl.id, t0: t0, t1: t1})
	if err != nil {
		p.failed(pl.id, t1, classifyCall(err), err)
		return
	}
	go p.await(pl.id, f)
}

// await is the application's goroutine for one future: no timeout of its own (the client's
// futures have none), so a future that never resolves keeps it waiting until the adapter exits.
func (p *publisher) await(id uint64, f nats.PubAckFuture) {
	select {
	case ack := <-f.Ok():
		p.out.put(report{verb: 'a', id: id, t0: now(), seq: ack.Sequence, dup: ack.Duplicate})
		p.pending.Add(-1)
	case err := <-f.Err():
		p.failed(id, now(), classifyReply(err), err)
	}
}

// publishSync is js.Publish, on this goroutine: jsbench sends the next p only after this one
// resolved, and the payload buffer is not touched until the call returned.
func (p *publisher) publishSync(pl *pubLine) {
	c := p.conns[pl.conn]
	subject := p.subjects.get(pl.subject)
	var opts []nats.PubOpt
	if pl.msgid != nil {
		opts = []nats.PubOpt{nats.MsgId(string(pl.msgid))}
	}
	closedBefore := c.nc.IsClosed()
	p.pending.Add(1)
	t0 := now()
	ack, err := c.js.Publish(subject, p.cfg.payload, opts...)
	t1 := now()
	p.out.put(report{verb: 's', id: pl.id, t0: t0, t1: t1})
	if err != nil {
		p.failed(pl.id, t1, classifySync(err, closedBefore), err)
		return
	}
	p.out.put(report{verb: 'a', id: pl.id, t0: t1, seq: ack.Sequence, dup: ack.Duplicate})
	p.pending.Add(-1)
}

// failed reports an error.
func (p *publisher) failed(id uint64, t int64, f failure, err error) {
	p.out.put(report{verb: 'e', id: id, t0: t, class: f.class, code: f.code, kind: f.kind, text: err.Error()})
	p.pending.Add(-1)
}

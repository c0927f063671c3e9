package main

// Input from jsbench (stdin).
//
// Why stdin is read by its own goroutine and handed over in chunks: a publish call can block
// (nc.publish writes its 32 KiB buffer to the socket inline, and a paused server stops reading),
// and the adapter must still notice the end of input and exit in time. The stdin goroutine sees
// EOF whatever the publisher is doing and arms the exit watchdog (main.go). Chunks, not lines,
// cross the channel, so a pipelined burst costs one channel operation per read, not per line;
// the publisher reads lines out of them through a large bufio.Reader, without copying a line.

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

const (
	chunkSize  = 64 << 10 // one read of stdin
	chunkQueue = 4096     // chunks read ahead (see readStdin)
	lineBuffer = 1 << 20  // the publisher's bufio.Reader
)

// chunkReader is an io.Reader over the chunks the stdin goroutine read.
type chunkReader struct {
	chunks chan []byte // closed at end of input
	cur    []byte      // rest of the current chunk
}

// inputEnded is set when stdin has ended: the publisher then stops publishing, even if lines
// read before the end are still queued (jsbench closes stdin only after it stopped waiting for
// every publish it sent; a line still queued then is one it gave up on).
var inputEnded atomic.Bool

// readStdin starts the stdin goroutine; onEOF runs once when stdin ends (or fails).
//
// Each chunk is a copy of exactly what one read returned, so that lines read ahead while the
// publisher is stuck cost their own size, not a 64 KiB buffer each. How much is read ahead is
// bounded by jsbench, which sends no more than its window while nothing resolves; the queue
// is long enough for any window, so the stdin goroutine still reaches the end of input.
func readStdin(onEOF func()) *chunkReader {
	r := &chunkReader{chunks: make(chan []byte, chunkQueue)}
	go func() {
		buf := make([]byte, chunkSize)
		for {
			n, err := os.Stdin.Read(buf)
			if n > 0 {
				r.chunks <- append([]byte(nil), buf[:n]...)
			}
			if err != nil {
				if err != io.EOF {
					fmt.Fprintln(os.Stderr, "jsbench-nats.go: reading stdin:", err)
				}
				inputEnded.Store(true)
				close(r.chunks)
				onEOF()
				return
			}
		}
	}()
	return r
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.cur) == 0 {
		b, ok := <-r.chunks
		if !ok {
			return 0, io.EOF
		}
		r.cur = b
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// lines reads newline-terminated lines.
type lines struct {
	br   *bufio.Reader
	long []byte // a line longer than the reader's buffer (the init line with a big filler)
}

func newLines(r io.Reader) *lines { return &lines{br: bufio.NewReaderSize(r, lineBuffer)} }

// next returns the next line without its line ending, valid until the next call; io.EOF at
// the end (a last line without a newline is still returned first).
func (l *lines) next() ([]byte, error) {
	line, err := l.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		l.long = append(l.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = l.br.ReadSlice('\n')
			l.long = append(l.long, line...)
		}
		line = l.long
	}
	if err != nil && (err != io.EOF || len(line) == 0) {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte{'\n'})
	return bytes.TrimSuffix(line, []byte{'\r'}), nil
}

// dropRest reads the remaining lines without handling them and returns how many there were.
func (l *lines) dropRest() int {
	n := 0
	for {
		line, err := l.next()
		if err != nil {
			return n
		}
		if len(line) > 0 {
			n++
		}
	}
}

// pubLine is a parsed `p <id> <conn> <subject> <msgid> <tag>`; its slices point into the line.
type pubLine struct {
	id      uint64
	conn    int
	subject []byte
	msgid   []byte // nil for "-"
	tag     []byte // 48 hex digits
}

var errFields = errors.New("wrong number of fields")

// field cuts the next space-separated field off b.
func field(b []byte) (f, rest []byte) {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// parseUint parses a decimal number without allocating.
func parseUint(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 19 {
		return 0, fmt.Errorf("%q is not a decimal number", b)
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", b)
		}
		n = n*10 + uint64(c-'0')
	}
	return n, nil
}

// parsePub parses the fields after "p ".
func parsePub(b []byte, conns int) (pubLine, error) {
	var p pubLine
	var f []byte
	var err error
	f, b = field(b)
	if p.id, err = parseUint(f); err != nil {
		return p, fmt.Errorf("id: %w", err)
	}
	f, b = field(b)
	c, err := parseUint(f)
	if err != nil {
		return p, fmt.Errorf("conn: %w", err)
	}
	if c >= uint64(conns) {
		return p, fmt.Errorf("conn %d: init named %d connections", c, conns)
	}
	p.conn = int(c)
	p.subject, b = field(b)
	p.msgid, b = field(b)
	p.tag, b = field(b)
	if len(p.subject) == 0 || len(p.msgid) == 0 || len(p.tag) == 0 || b != nil {
		return p, errFields
	}
	if len(p.msgid) == 1 && p.msgid[0] == '-' {
		p.msgid = nil
	}
	if len(p.tag) != 2*tagSize {
		return p, fmt.Errorf("tag: %d hex digits, want %d", len(p.tag), 2*tagSize)
	}
	return p, nil
}

// tagSize is the bytes of the tag at the start of every payload.
const tagSize = 24

// putTag hex-decodes the tag into the payload's first bytes (no allocation).
func putTag(payload, tag []byte) error {
	if _, err := hex.Decode(payload[:tagSize], tag); err != nil {
		return fmt.Errorf("tag: %w", err)
	}
	return nil
}

// interner gives one string per distinct subject: jsbench repeats a few subjects (one per
// key), and a map lookup with string(b) as key does not allocate.
type interner map[string]string

const maxInterned = 1 << 16

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < maxInterned {
		in[s] = s
	}
	return s
}

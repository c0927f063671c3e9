package main

// The handshake: the init message, one nats.Conn and one JetStream context per connection,
// and the init_ok (or error) answer.

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// initMsg is the init message; pointers tell a missing field from a zero one.
type initMsg struct {
	Type         string     `json:"type"`
	Protocol     *int       `json:"protocol"`
	Run          string     `json:"run"`
	Connections  [][]string `json:"connections"`
	Token        *string    `json:"token"`
	User         *string    `json:"user"`
	Password     *string    `json:"password"`
	Stream       string     `json:"stream"`
	Subjects     string     `json:"subjects"`
	Mode         string     `json:"mode"`
	MaxPending   *int       `json:"max_pending"`
	AckTimeoutMs *int64     `json:"ack_timeout_ms"`
	MsgID        *bool      `json:"msg_id"`
	PayloadSize  *int       `json:"payload_size"`
	Filler       *string    `json:"filler"`
}

// config is a validated init message.
type config struct {
	conns       [][]string
	token, user *string
	password    string
	async       bool
	maxPending  int
	ackTimeout  time.Duration
	payload     []byte // the filler in place after the tag; the tag is written per message
}

// parseInit validates the init line. Its errors never quote the line (it holds the token).
func parseInit(line []byte) (*config, error) {
	var m initMsg
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("init: not a valid init JSON object: %v", err)
	}
	switch {
	case m.Type != "init":
		return nil, fmt.Errorf("init: type is %q, want \"init\"", m.Type)
	case m.Protocol == nil || *m.Protocol != 1:
		return nil, errors.New("init: protocol must be 1 (this adapter speaks protocol 1 only)")
	case len(m.Connections) == 0:
		return nil, errors.New("init: connections must name at least one connection")
	case m.Mode != "sync" && m.Mode != "async":
		return nil, fmt.Errorf("init: mode is %q, allowed: \"sync\", \"async\"", m.Mode)
	case m.MaxPending == nil || *m.MaxPending < 1:
		return nil, errors.New("init: max_pending must be an integer >= 1")
	case m.AckTimeoutMs == nil || *m.AckTimeoutMs < 1:
		return nil, errors.New("init: ack_timeout_ms must be an integer >= 1")
	case m.PayloadSize == nil || *m.PayloadSize < tagSize:
		return nil, fmt.Errorf("init: payload_size must be an integer >= %d", tagSize)
	case m.Filler == nil || len(*m.Filler) != 2*(*m.PayloadSize-tagSize):
		return nil, fmt.Errorf("init: filler must be %d hex digits (payload_size - %d bytes)",
			2*(*m.PayloadSize-tagSize), tagSize)
	case m.Token != nil && m.User != nil:
		return nil, errors.New("init: at most one of token and user may be set")
	}
	for i, urls := range m.Connections {
		if len(urls) == 0 {
			return nil, fmt.Errorf("init: connections[%d] has no URL", i)
		}
	}
	c := &config{conns: m.Connections, token: m.Token, user: m.User, async: m.Mode == "async",
		maxPending: *m.MaxPending, ackTimeout: time.Duration(*m.AckTimeoutMs) * time.Millisecond,
		payload: make([]byte, *m.PayloadSize)}
	if m.Password != nil {
		c.password = *m.Password
	}
	if _, err := hex.Decode(c.payload[tagSize:], []byte(*m.Filler)); err != nil {
		return nil, fmt.Errorf("init: filler: %v", err)
	}
	return c, nil
}

// connectLimit bounds connecting: jsbench waits 10 s for the answer, and nats.Connect tries
// every URL of a connection in turn with a 2 s dial timeout each.
const connectLimit = 7 * time.Second

// conn is one of the init's connections.
type conn struct {
	nc *nats.Conn
	js nats.JetStreamContext
}

// connectAll opens every connection at once (each one's own URLs in order), all or nothing.
func connectAll(c *config) ([]conn, error) {
	type result struct {
		i   int
		nc  *nats.Conn
		err error
	}
	done := make(chan result, len(c.conns))
	for i := range c.conns {
		go func(i int) {
			nc, err := nats.Connect(strings.Join(c.conns[i], ","), c.options(i)...)
			done <- result{i, nc, err}
		}(i)
	}
	conns := make([]conn, len(c.conns))
	limit := time.NewTimer(connectLimit)
	defer limit.Stop()
	var failed error
	for n := 0; n < len(c.conns) && failed == nil; n++ {
		select {
		case r := <-done:
			if r.err != nil {
				failed = fmt.Errorf("connect %s (connection %d): %v", strings.Join(c.conns[r.i], ","), r.i, r.err)
			}
			conns[r.i].nc = r.nc
		case <-limit.C:
			failed = fmt.Errorf("connect: %s not up after %v", notUp(c.conns, conns), connectLimit)
		}
	}
	if failed != nil {
		closeAll(conns)
		return nil, failed
	}
	for i := range conns {
		js, err := conns[i].nc.JetStream(c.jsOptions()...)
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("connection %d: JetStream context: %v", i, err)
		}
		conns[i].js = js
	}
	return conns, nil
}

// notUp names the connections that have not connected (yet).
func notUp(urls [][]string, conns []conn) string {
	var names []string
	for i := range conns {
		if conns[i].nc == nil {
			names = append(names, fmt.Sprintf("connection %d (%s)", i, strings.Join(urls[i], ",")))
		}
	}
	return strings.Join(names, ", ")
}

// options are connection i's nats.Options: the credential, the URL order kept (entry 0 is the
// primary), and handlers that only log; everything else is the client's default.
func (c *config) options(i int) []nats.Option {
	opts := []nats.Option{
		nats.DontRandomize(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			logf("connection %d: disconnected: %v", i, err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logf("connection %d: reconnected to %s", i, nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(_ *nats.Conn) { logf("connection %d: closed", i) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			logf("connection %d: async error: %v", i, err)
		}),
	}
	if c.token != nil {
		opts = append(opts, nats.Token(*c.token))
	}
	if c.user != nil {
		opts = append(opts, nats.UserInfo(*c.user, c.password))
	}
	return opts
}

// jsOptions are the JetStream context's options, as the application sets them.
func (c *config) jsOptions() []nats.JSOpt {
	opts := []nats.JSOpt{nats.PublishAsyncMaxPending(c.maxPending)}
	if !c.async {
		opts = append(opts, nats.MaxWait(c.ackTimeout))
	}
	return opts
}

// closeAll closes every open connection, each in its own goroutine and within 500 ms in all:
// Close takes the connection's lock, which a publish blocked on the socket may hold.
func closeAll(conns []conn) {
	done := make(chan struct{}, len(conns))
	n := 0
	for _, c := range conns {
		if c.nc != nil {
			n++
			go func(nc *nats.Conn) { nc.Close(); done <- struct{}{} }(c.nc)
		}
	}
	limit := time.NewTimer(500 * time.Millisecond)
	defer limit.Stop()
	for ; n > 0; n-- {
		select {
		case <-done:
		case <-limit.C:
			return
		}
	}
}

// settings says how the init's settings were applied (init_ok's "settings").
func (c *config) settings() map[string]string {
	s := map[string]string{
		"connect": "nats.Connect(<the entry's URLs joined by \",\">, nats.DontRandomize(), " +
			"nats.Token(token) or nats.UserInfo(user, password)); DontRandomize keeps the URL order " +
			"(entry 0 first); dial timeout 2s (client default); the adapter gives up after 7s",
		"max_pending": fmt.Sprintf("nc.JetStream(nats.PublishAsyncMaxPending(%d)) per connection; "+
			"at the limit PublishAsync waits up to 200ms (client default) for a slot, then fails "+
			"with \"stalled with too many outstanding async published messages\"", c.maxPending),
		"reconnect": "client defaults: MaxReconnect 60, ReconnectWait 2s + up to 100ms jitter, " +
			"ReconnectBufSize 8MiB, PingInterval 2m, MaxPingsOut 2",
		"msg_id": "nats.MsgId(id) (a Nats-Msg-Id header); no option when the line has -",
	}
	if c.async {
		s["ack_timeout"] = fmt.Sprintf("async: not applied, nats.go %s's PublishAsync futures "+
			"have no timeout (a future whose reply never comes never resolves)", nats.Version)
		s["completion"] = "a goroutine per PubAckFuture selecting on f.Ok() and f.Err()"
	} else {
		s["ack_timeout"] = fmt.Sprintf("sync: nats.MaxWait(%v) on the JetStream context; js.Publish "+
			"retries a 503 (no responders) twice, 250ms apart, within that time (client default)",
			c.ackTimeout)
	}
	return s
}

// answerInit writes init_ok; errors go through fail.
func answerInit(c *config) {
	type named struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	ok := struct {
		Type     string            `json:"type"`
		Client   named             `json:"client"`
		Adapter  named             `json:"adapter"`
		Features []string          `json:"features"`
		Settings map[string]string `json:"settings"`
	}{"init_ok", named{"nats.go", nats.Version}, named{"jsbench-nats.go", "1"},
		[]string{"sync", "async", "msg_id"}, c.settings()}
	b, _ := json.Marshal(ok)
	os.Stdout.Write(append(b, '\n'))
}

// fail answers init with an error and exits 1.
func fail(err error) {
	b, _ := json.Marshal(struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}{"error", err.Error()})
	os.Stdout.Write(append(b, '\n'))
	logf("%v", err)
	os.Exit(1)
}

func logf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "jsbench-nats.go: "+format+"\n", args...)
}

package main

// How each error nats.go 1.22.1 can give is reported: class (d: certainly not stored, i: may be
// stored), code and kind. Read from the client's source (js.go, nats.go of 1.22.1):
//
//   - PublishMsgAsync returns an error only before the message reaches the socket, with one
//     exception: the stall error ("stalled with too many outstanding async published
//     messages", after waiting 200 ms for a slot) clears the future before publishing; so do
//     the refusals of nc.publish (connection closed, draining, max payload, bad subject,
//     headers not supported, reconnect buffer full) and a failed reply subscription. The
//     exception is a socket write error: nc.publish appends the message to its buffer and
//     flushes it inline when the buffer passes 32 KiB, and a failed flush returns the write
//     error after (part of) the message may have left. That one is indefinite.
//   - A future fails through handleAsyncReply only: a 503 status reply (no responders: nobody
//     took the message), an API error reply, or an unparsable reply. There is no timeout and
//     nothing fails futures on disconnect or close.
//   - js.Publish (sync) is a request with nats.MaxWait: ErrTimeout, an API error, or after its
//     own two retries on 503 (250 ms apart) ErrNoStreamResponse, "no response from stream";
//     a retry that runs out of MaxWait returns ErrTimeout. ErrConnectionClosed comes either
//     from the refusal to send (connection closed before the call) or from a connection
//     closed while the reply was awaited.

import (
	"errors"
	"strings"

	"github.com/nats-io/nats.go"
)

// failure is how one error is reported.
type failure struct {
	class byte
	code  int
	kind  string
}

// API error codes with a class other than definite.
const (
	codeDuplicateInProcess = 10158 // the original with this Msg-Id is still being stored
	codeStoreFailed        = 10077 // "{err}" of the store: a limit, or an I/O failure
)

// stallText is the start of PublishMsgAsync's stall error (an errors.New, not a variable).
const stallText = "nats: stalled with too many outstanding async published messages"

// classifyCall classifies an error returned by PublishAsync itself.
func classifyCall(err error) failure {
	if f, ok := refusal(err); ok {
		return f
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, stallText):
		return failure{'d', 0, "stalled"}
	case strings.HasPrefix(msg, "nats: error creating async reply handler"):
		return failure{'d', 0, "reply_subscription"}
	}
	// A socket write error from the inline flush (or anything unforeseen): may have left.
	return failure{'i', 0, "write_error"}
}

// classifyReply classifies the error a future resolved with.
func classifyReply(err error) failure {
	if f, ok := replyError(err); ok {
		return f
	}
	return failure{'i', 0, "other"}
}

// classifySync classifies an error of js.Publish; closedBefore tells whether the connection
// was already closed when the call was entered (then the client refused to send).
func classifySync(err error, closedBefore bool) failure {
	switch {
	case errors.Is(err, nats.ErrTimeout):
		return failure{'i', 0, "timeout"}
	case errors.Is(err, nats.ErrNoStreamResponse):
		// Every attempt (the first and the client's two retries) got a 503.
		return failure{'d', 503, "no_responders"}
	case errors.Is(err, nats.ErrConnectionClosed):
		if closedBefore {
			return failure{'d', 0, "connection_closed"}
		}
		return failure{'i', 0, "connection_closed"}
	}
	if f, ok := replyError(err); ok {
		return f
	}
	if f, ok := refusal(err); ok {
		return f
	}
	return failure{'i', 0, "other"}
}

// replyError classifies what the server's reply said.
func replyError(err error) (failure, bool) {
	var api *nats.APIError
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return failure{'d', 503, "no_responders"}, true
	case errors.As(err, &api):
		return apiFailure(api), true
	case errors.Is(err, nats.ErrInvalidJSAck):
		return failure{'i', 0, "invalid_ack"}, true
	}
	return failure{}, false
}

// apiFailure classifies an API error reply: the stream refused the message, so definite —
// except "duplicate message id is in process" (the original may yet be stored) and a store
// failure other than a stream limit (an I/O error: part of the message may be on disk, and
// on a replicated stream other replicas may have stored it).
func apiFailure(api *nats.APIError) failure {
	code := int(api.ErrorCode)
	if code == 0 {
		code = api.Code
	}
	switch {
	case code == codeDuplicateInProcess:
		return failure{'i', code, "api_error"}
	case code == codeStoreFailed && !isLimit(api.Description):
		return failure{'i', code, "api_error"}
	}
	return failure{'d', code, "api_error"}
}

// isLimit tells whether a store failure's text is a stream limit (discard new), which rejects
// the message before storing it.
func isLimit(description string) bool {
	return strings.HasPrefix(description, "maximum ")
}

// refusal classifies nc.publish's refusals: the message was not sent.
func refusal(err error) (failure, bool) {
	switch {
	case errors.Is(err, nats.ErrConnectionClosed):
		return failure{'d', 0, "connection_closed"}, true
	case errors.Is(err, nats.ErrConnectionDraining):
		return failure{'d', 0, "draining"}, true
	case errors.Is(err, nats.ErrReconnectBufExceeded):
		return failure{'d', 0, "reconnect_buffer_exceeded"}, true
	case errors.Is(err, nats.ErrMaxPayload):
		return failure{'d', 0, "max_payload"}, true
	case errors.Is(err, nats.ErrBadSubject):
		return failure{'d', 0, "bad_subject"}, true
	case errors.Is(err, nats.ErrHeadersNotSupported):
		return failure{'d', 0, "headers_not_supported"}, true
	case errors.Is(err, nats.ErrInvalidConnection):
		return failure{'d', 0, "invalid_connection"}, true
	}
	return failure{}, false
}

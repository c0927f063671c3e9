"""jsbench-nats.py: the nats-py publisher behind jsbench's adapter contract.

Speaks docs/adapters.md (protocol 1) on stdin/stdout, logs on stderr. It
publishes the way an asyncio application does: one ``nats.connect`` per init
``connections`` entry, one ``nc.jetstream()`` each; async mode awaits
``js.publish_async`` for each message in input order and handles every future
with a done-callback; sync mode awaits ``js.publish``. It never retries, times
out or reconnects on its own: what the client does is the measurement.

One asyncio loop runs everything: a reader task (stdin, answers clock probes at
once), a publisher task (publishes in input order; it may block where the
client blocks, e.g. publish_async waiting for a max-pending slot, while probes
and reports keep flowing), and the client's own tasks.
"""

import asyncio
import collections
import json
import os
import re
import stat
import sys
import time

import nats
import nats.aio.client
import nats.errors
import nats.js.errors

ADAPTER = "jsbench-nats.py"
CONNECT_BUDGET_S = 7.0  # jsbench waits 10 s for init_ok
COMPLETE_BUDGET_S = 2.0  # at EOF: how long publish_async_completed may take
CLOSE_BUDGET_S = 1.5
now_ns = time.monotonic_ns


def log(msg):
    print(f"{ADAPTER}: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ stdout --


class Output:
    """Reports, appended to a buffer and written out by a callback scheduled
    with call_soon when the buffer becomes non-empty: it runs before the loop
    next waits (for input or for the client), so no report is held back, and
    reports made in one loop iteration leave in one write."""

    def __init__(self):
        self.buf = bytearray()
        self.scheduled = False
        self.transport = None
        self.loop = None

    async def open(self):
        self.loop = asyncio.get_running_loop()
        mode = os.fstat(1).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode):
            pipe = os.fdopen(os.dup(1), "wb", buffering=0)
            self.transport, _ = await self.loop.connect_write_pipe(asyncio.Protocol, pipe)

    def line(self, text):
        self.buf += text.encode("utf-8", "replace") + b"\n"
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self):
        self.scheduled = False
        if not self.buf:
            return
        data = bytes(self.buf)
        self.buf.clear()
        if self.transport is not None:
            self.transport.write(data)  # buffers in the transport when the pipe is full
        else:
            os.write(1, data)  # stdout is a regular file: blocking writes are fine

    async def drain(self, budget_s):
        self.flush()
        deadline = time.monotonic() + budget_s
        while self.transport is not None and self.transport.get_write_buffer_size() > 0:
            if time.monotonic() > deadline:
                log("stdout still full at exit; some reports may be lost")
                return
            await asyncio.sleep(0.01)


def write_now(obj):
    """The init answer, before the loop's writer exists."""
    os.write(1, (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8"))


# ------------------------------------------------------------------- stdin --


class Input:
    """Lines from stdin via an asyncio StreamReader (connect_read_pipe); the
    init line may be megabytes (the filler), so lines are split here."""

    def __init__(self):
        self.reader = None
        self.rest = b""
        self.lines = collections.deque()
        self.eof = False

    async def open(self):
        loop = asyncio.get_running_loop()
        mode = os.fstat(0).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode):
            self.reader = asyncio.StreamReader(limit=1 << 24)
            proto = asyncio.StreamReaderProtocol(self.reader)
            await loop.connect_read_pipe(lambda: proto, os.fdopen(os.dup(0), "rb", buffering=0))

    async def chunk(self):
        if self.reader is not None:
            return await self.reader.read(1 << 20)
        return await asyncio.get_running_loop().run_in_executor(None, os.read, 0, 1 << 20)

    async def batch(self):
        """The next complete lines (at least one), or None at EOF."""
        while not self.lines:
            if self.eof:
                return None
            data = await self.chunk()
            if not data:
                self.eof = True
                if self.rest:
                    log("ignoring an unterminated last line")
                continue
            parts = (self.rest + data).split(b"\n")
            self.rest = parts.pop()
            self.lines.extend(parts)
        out = list(self.lines)
        self.lines.clear()
        return out

    async def first_line(self):
        while not self.lines and not self.eof:
            data = await self.chunk()
            if not data:
                self.eof = True
                break
            parts = (self.rest + data).split(b"\n")
            self.rest = parts.pop()
            self.lines.extend(parts)
        return self.lines.popleft() if self.lines else None


# -------------------------------------------------------------------- init --


class InitError(Exception):
    pass


def parse_init(line):
    try:
        m = json.loads(line)
    except ValueError as e:
        raise InitError(f"init: not valid JSON: {e}")
    if not isinstance(m, dict) or m.get("type") != "init":
        raise InitError('the first line must be the init message ({"type":"init",…})')
    if m.get("protocol") != 1 or isinstance(m.get("protocol"), bool):
        raise InitError("init: protocol must be 1 (this adapter speaks protocol 1 only)")

    def integer(key, lo):
        v = m.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise InitError(f"init: field `{key}` must be an integer ≥ {lo}")
        return v

    def string(key, nullable=False):
        v = m.get(key)
        if v is None and nullable:
            return None
        if not isinstance(v, str):
            raise InitError(f"init: field `{key}` must be a string{' or null' if nullable else ''}")
        return v

    conns = m.get("connections")
    if (not isinstance(conns, list) or not conns
            or not all(isinstance(c, list) and c and all(isinstance(u, str) and u for u in c) for c in conns)):
        raise InitError("init: field `connections` must be a non-empty array of non-empty arrays of URL strings")
    cfg = {
        "connections": conns, "token": string("token", True), "user": string("user", True),
        "password": string("password", True), "stream": string("stream"), "subjects": string("subjects"),
        "mode": string("mode"), "max_pending": integer("max_pending", 1),
        "ack_timeout_ms": integer("ack_timeout_ms", 1), "payload_size": integer("payload_size", 24),
    }
    if cfg["mode"] not in ("sync", "async"):
        raise InitError('init: field `mode` must be "sync" or "async"')
    if not isinstance(m.get("msg_id"), bool):
        raise InitError("init: field `msg_id` must be true or false")
    if cfg["token"] is not None and cfg["user"] is not None:
        raise InitError("init: at most one of `token` and `user` may be set")
    filler = string("filler")
    try:
        cfg["filler"] = bytes.fromhex(filler)
    except ValueError:
        cfg["filler"] = None
    if cfg["filler"] is None or len(cfg["filler"]) != cfg["payload_size"] - 24 or len(filler) % 2:
        raise InitError(f"init: field `filler` must be {2 * (cfg['payload_size'] - 24)} hex digits "
                        f"(payload_size - 24 bytes), got {len(filler)} characters")
    return cfg


async def connect_all(cfg):
    """One client per connection entry, with the client's defaults except the
    servers (in order: dont_randomize) and the credential. nats-py retries a
    failed first connect like a reconnect (60 × 2 s), so the whole start-up is
    bounded here to answer jsbench in time."""
    last_err = {}

    def callbacks(i):
        async def error_cb(e):
            last_err[i] = e
            log(f"connection {i}: error: {type(e).__name__}: {e}")

        async def disconnected_cb():
            log(f"connection {i}: disconnected")

        async def reconnected_cb():
            log(f"connection {i}: reconnected")

        async def closed_cb():
            log(f"connection {i}: closed")
        return dict(error_cb=error_cb, disconnected_cb=disconnected_cb, reconnected_cb=reconnected_cb,
                    closed_cb=closed_cb)

    async def one(i, urls):
        kw = dict(servers=urls, dont_randomize=True, **callbacks(i))
        if cfg["token"] is not None:
            kw["token"] = cfg["token"]
        if cfg["user"] is not None:
            kw["user"] = cfg["user"]
            kw["password"] = cfg["password"] or ""
        try:
            return await nats.connect(**kw)
        except Exception as e:
            raise InitError(f"connect {urls[0]} (connection {i}): {type(e).__name__}: {e}")

    tasks = [asyncio.ensure_future(one(i, urls)) for i, urls in enumerate(cfg["connections"])]
    try:
        return await asyncio.wait_for(asyncio.gather(*tasks), CONNECT_BUDGET_S)
    except asyncio.TimeoutError:
        for i, t in enumerate(tasks):
            if not t.done() or t.cancelled():
                err = last_err.get(i)
                why = f"{type(err).__name__}: {err}" if err else "no answer"
                raise InitError(f"connect {cfg['connections'][i][0]} (connection {i}): not connected within "
                                f"{CONNECT_BUDGET_S:g} s (nats-py keeps retrying): last error {why}")
        raise InitError(f"connect: not connected within {CONNECT_BUDGET_S:g} s")


def init_ok(cfg):
    n = len(cfg["connections"])
    secs = cfg["ack_timeout_ms"] / 1000
    if cfg["mode"] == "async":
        mp = (f"nc.jetstream(publish_async_max_pending={cfg['max_pending']}): an asyncio.Semaphore; "
              "publish_async waits for a free slot with wait_stall=None (the client default), i.e. without limit")
        at = ("async: no timeout in this client (a publish_async future resolves only when a reply comes); "
              f"sync: js.publish(timeout={secs:g})")
    else:
        mp = "not used: sync mode awaits js.publish, one at a time"
        at = f"sync: js.publish(timeout={secs:g}) (nats.errors.TimeoutError)"
    settings = {
        "publish": ("await js.publish_async(...) in input order, future.add_done_callback per future"
                    if cfg["mode"] == "async" else "await js.publish(...)"),
        "max_pending": mp,
        "ack_timeout": at,
        "msg_id": 'headers={"Nats-Msg-Id": id} (nats-py has no msg_id parameter)',
        "connections": f"{n} nats.connect(servers=[…], dont_randomize=True), one nc.jetstream() each",
        "reconnect": ("client defaults: allow_reconnect, max_reconnect_attempts 60, reconnect_time_wait 2 s, "
                      "pending_size 2 MiB, connect_timeout 2 s, ping_interval 120 s; the first connect is bounded "
                      f"to {CONNECT_BUDGET_S:g} s by the adapter; no retry of publishes"),
    }
    return {
        "type": "init_ok",
        "client": {"name": "nats.py", "version": nats.aio.client.__version__},
        "adapter": {"name": ADAPTER, "version": "1"},
        "features": ["sync", "async", "msg_id"],
        "settings": settings,
    }


# ------------------------------------------------------------------ errors --

_KIND_RE = re.compile(r"(?<!^)(?=[A-Z])")
# Raised by nats-py before a byte of the message is written (nc.publish's
# checks, publish_async's semaphore): certainly not stored.
_BEFORE_SEND = {
    nats.errors.ConnectionClosedError: "connection_closed",
    nats.errors.OutboundBufferLimitError: "reconnect_buffer_full",
    nats.errors.ConnectionDrainingError: "draining",
    nats.errors.MaxPayloadError: "max_payload",
    nats.errors.BadSubjectError: "invalid_subject",
    nats.errors.BadHeaderError: "bad_header",
    nats.js.errors.TooManyStalledMsgsError: "stalled",
}


def classify(e):
    """(class, code, kind) for a nats-py exception (nats-py 2.16 source:
    nats/js/client.py publish/publish_async/_handle_async_reply, nats/aio/client.py)."""
    if isinstance(e, nats.js.errors.APIError):
        # An error reply from the stream: not stored, except that 10158
        # "duplicate message id is in process" means the original may be.
        code = e.err_code if isinstance(e.err_code, int) else 0
        return ("i" if code in (0, 10158) else "d"), code, "api_error"
    if isinstance(e, (nats.js.errors.NoStreamResponseError, nats.errors.NoRespondersError)):
        return "d", 503, "no_responders"
    if isinstance(e, (nats.errors.TimeoutError, asyncio.TimeoutError)):
        return "i", 0, "timeout"
    for cls, kind in _BEFORE_SEND.items():
        if isinstance(e, cls):
            return "d", 0, kind
    return "i", 0, _KIND_RE.sub("_", type(e).__name__).lower() or "error"


def error_text(e):
    text = str(e) or type(e).__name__
    return text.replace("\r", " ").replace("\n", " ")


# --------------------------------------------------------------- publisher --


class Adapter:
    def __init__(self, cfg, ncs, out):
        self.cfg = cfg
        self.ncs = ncs
        self.out = out
        self.async_mode = cfg["mode"] == "async"
        if self.async_mode:
            self.jss = [nc.jetstream(publish_async_max_pending=cfg["max_pending"]) for nc in ncs]
        else:
            self.jss = [nc.jetstream() for nc in ncs]
        self.timeout = cfg["ack_timeout_ms"] / 1000
        self.filler = cfg["filler"]
        self.queue = collections.deque()
        self.wake = asyncio.Event()
        self.stopping = False

    def fail(self, i, t, e):
        cls, code, kind = classify(e)
        self.out.line(f"e {i} {t} {cls} {code} {kind} {error_text(e)}")

    def on_done(self, i, fut):
        """The application's handler for one publish_async future."""
        t = now_ns()
        if fut.cancelled():
            self.out.line(f"e {i} {t} i 0 cancelled future cancelled")
            return
        e = fut.exception()
        if e is None:
            ack = fut.result()
            self.out.line(f"a {i} {t} {ack.seq} {1 if ack.duplicate else 0}")
        else:
            self.fail(i, t, e)

    async def publish_one(self, i, conn, subject, msgid, tag):
        js = self.jss[conn]
        payload = tag + self.filler
        headers = {"Nats-Msg-Id": msgid} if msgid is not None else None
        if self.async_mode:
            t0 = now_ns()
            try:
                fut = await js.publish_async(subject, payload, headers=headers)
            except Exception as e:
                t1 = now_ns()
                if self.stopping:  # our own cancellation at EOF, not the client's verdict
                    return
                self.out.line(f"s {i} {t0} {t1}")
                self.fail(i, t1, e)
                return
            self.out.line(f"s {i} {t0} {now_ns()}")
            # Added after the `s` line: a future already done runs it via call_soon, later.
            fut.add_done_callback(lambda f, i=i: self.on_done(i, f))
        else:
            t0 = now_ns()
            try:
                ack = await js.publish(subject, payload, timeout=self.timeout, headers=headers)
            except Exception as e:
                t1 = now_ns()
                self.out.line(f"s {i} {t0} {t1}")
                self.fail(i, t1, e)
                return
            t1 = now_ns()
            self.out.line(f"s {i} {t0} {t1}")
            self.out.line(f"a {i} {t1} {ack.seq} {1 if ack.duplicate else 0}")

    async def publisher(self):
        while not self.stopping:
            if not self.queue:
                self.wake.clear()
                await self.wake.wait()
                continue
            i, conn, subject, msgid, tag = self.queue.popleft()
            await self.publish_one(i, conn, subject, msgid, tag)

    def handle(self, raw):
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if line.startswith("c "):
            n = line[2:]
            if not n.isdigit():
                bad_input("malformed clock probe", line)
            self.out.line(f"c {n} {now_ns()}")
        elif line.startswith("p "):
            f = line.split(" ")
            if len(f) != 6 or not f[1].isdigit() or not f[2].isdigit():
                bad_input("malformed publish line", line)
            conn = int(f[2])
            if conn >= len(self.jss):
                bad_input("publish on a connection index init did not open", line)
            try:
                tag = bytes.fromhex(f[5])
            except ValueError:
                tag = b""
            if len(tag) != 24:
                bad_input("tag is not 48 hex digits", line)
            self.queue.append((int(f[1]), conn, f[3], None if f[4] == "-" else f[4], tag))
            self.wake.set()
        elif line:
            # Later versions of protocol 1 may add lines; an unknown one is not ours to judge.
            log(f"ignoring unknown line: {line[:200]}")

    async def shut_down(self, task):
        """At EOF: stop publishing, give the client ≤ 2 s to resolve what it
        has, close the connections, write out every report."""
        self.stopping = True
        dropped = len(self.queue)
        if dropped:
            log(f"EOF with {dropped} publish lines not yet published (the client was blocked); dropped")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if self.async_mode:
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(js.publish_async_completed() for js in self.jss)), COMPLETE_BUDGET_S)
            except asyncio.TimeoutError:
                left = sum(js.publish_async_pending() for js in self.jss)
                log(f"exiting with {left} publish_async futures the client never resolved")
        try:
            await asyncio.wait_for(asyncio.gather(*(nc.close() for nc in self.ncs), return_exceptions=True),
                                   CLOSE_BUDGET_S)
        except asyncio.TimeoutError:
            log("closing the connections took too long; exiting anyway")


def bad_input(what, line):
    # jsbench broke the contract: say so on stderr (jsbench quotes it) and stop.
    log(f"{what}: {line[:200]}")
    sys.stderr.flush()
    os._exit(1)


async def main():
    out = Output()
    inp = Input()
    await inp.open()
    first = await inp.first_line()
    if first is None:
        log("stdin closed before the init message")
        return 1
    try:
        cfg = parse_init(first)
        ncs = await connect_all(cfg)
    except InitError as e:
        write_now({"type": "error", "text": str(e)})
        log(str(e))
        return 1
    write_now(init_ok(cfg))
    await out.open()
    ad = Adapter(cfg, ncs, out)
    task = asyncio.ensure_future(ad.publisher())
    pending = list(inp.lines)
    inp.lines.clear()
    for raw in pending:
        ad.handle(raw)
    while (batch := await inp.batch()) is not None:
        for raw in batch:
            ad.handle(raw)
    await ad.shut_down(task)
    await out.drain(1.0)
    return 0


if __name__ == "__main__":
    rc = asyncio.run(main())
    sys.stdout.flush()
    sys.stderr.flush()
    # Exit now: the client's background tasks must not delay the exit jsbench waits for.
    os._exit(rc)

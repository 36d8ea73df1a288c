"""An open-loop HTTP client: offers requests at a fixed rate whatever the server does.

wrk is closed-loop (a connection sends its next request only after the answer), which
hides queueing ("coordinated omission"). Here request *i* is due at ``start + i / rate``;
its latency is measured from that due time, so a stalled server shows up in the p99.
Connections are kept alive and reused; a new one is opened when all are busy (bounded).
Like any keep-alive client, it does not reuse a connection the server may be closing:
one idle for longer than half the server's keep-alive, or answered ``Connection: close``
(otherwise the race between the server's close and the next request shows up as
errors that are the client's, not the server's).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

MAX_CONNECTIONS = 256
READ_TIMEOUT = 15.0


@dataclass
class OpenLoopResult:
    """Latencies (ms) from due time to full answer, and the outcome counts."""

    offered_rps: float
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    ok: int = 0
    non_2xx: int = 0
    errors: int = 0
    unsent: int = 0
    late_starts: int = 0
    ok_indexes: list[int] = field(default_factory=list)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, whether the connection may be reused)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length = 0
    reusable = True
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        header = name.strip().lower()
        if header == b"content-length":
            length = int(value.strip())
        elif header == b"connection" and value.strip().lower() == b"close":
            reusable = False
    if length:
        await reader.readexactly(length)
    return status, reusable


async def _run(host: str, port: int, payloads: list[bytes], rate: float,
               keep_alive: float) -> OpenLoopResult:
    result = OpenLoopResult(offered_rps=rate, seconds=0.0)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
    max_idle = keep_alive / 2
    open_count = 0
    start = time.perf_counter() + 0.2

    async def one(index: int, payload: bytes) -> None:
        nonlocal open_count
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            result.late_starts += 1
        connection = None
        while idle and connection is None:
            reader, writer, since = idle.pop()
            if time.perf_counter() - since <= max_idle:
                connection = reader, writer
            else:  # the server may be closing it right now
                open_count -= 1
                writer.close()
        if connection is not None:
            reader, writer = connection
        elif open_count < MAX_CONNECTIONS:
            open_count += 1
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                open_count -= 1
                result.errors += 1
                return
        else:  # every connection is busy: the request is never sent
            result.unsent += 1
            return
        try:
            writer.write(payload)
            status, reusable = await asyncio.wait_for(_read_response(reader), READ_TIMEOUT)
        except (TimeoutError, OSError, ConnectionError, ValueError, asyncio.IncompleteReadError):
            result.errors += 1
            open_count -= 1
            writer.close()
            return
        result.latencies_ms.append((time.perf_counter() - due) * 1000)
        if 200 <= status < 300:
            result.ok += 1
            result.ok_indexes.append(index)
        else:
            result.non_2xx += 1
        if reusable:
            idle.append((reader, writer, time.perf_counter()))
        else:
            open_count -= 1
            writer.close()

    await asyncio.gather(*(one(i, payload) for i, payload in enumerate(payloads)))
    result.seconds = time.perf_counter() - start
    for _, writer, _ in idle:
        writer.close()
    return result


def run_open_loop(host: str, port: int, payloads: list[bytes], rate: float,
                  keep_alive: float = 2.0) -> OpenLoopResult:
    """Send every payload (a full HTTP/1.1 request) at ``rate`` per second; bounded by
    ``len(payloads)`` and, per request, by ``READ_TIMEOUT``. ``keep_alive``: the
    server's keep-alive timeout in seconds."""
    return asyncio.run(_run(host, port, payloads, rate, keep_alive))


def http_post(path: str, host_header: str, headers: dict[str, str], body: str) -> bytes:
    """A keep-alive HTTP/1.1 POST request as bytes."""
    data = body.encode("ascii")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host_header}",
             f"Content-Length: {len(data)}", *[f"{k}: {v}" for k, v in headers.items()]]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + data

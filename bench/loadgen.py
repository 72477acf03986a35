"""The load generator: a separate process firing prepared raw HTTP/1.1 requests over keep-alive
connections, each request exactly once, ``--concurrency`` of them in flight (closed loop).

``python -m bench.loadgen --port 8000 --concurrency 32 --input requests.pickle --output report.pickle``

asyncio streams on one thread: a request costs this process a few tens of microseconds, far below what
the server spends on it; the report carries this process's own CPU time so that can be checked.
Latency is measured per request from the first byte written to the last byte of the answer read.
"""
from __future__ import annotations

import argparse
import asyncio
import pickle
import resource
import time
from collections import Counter


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, close, chunked = 0, lines[0].startswith("HTTP/1.0"), False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            close = value.strip().lower() == "close"
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = await reader.readexactly(length) if length else b""
    return status, body, close


async def _main(requests: list[bytes], port: int, concurrency: int) -> dict:
    statuses = [0] * len(requests)
    latencies = [0.0] * len(requests)
    bodies: Counter = Counter()
    errors: Counter = Counter()
    queue = iter(range(len(requests)))

    async def worker() -> None:
        reader = writer = None
        for index in queue:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                started = time.perf_counter()
                writer.write(requests[index])
                status, body, close = await _read_answer(reader)
                ended = time.perf_counter()
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[type(exc).__name__] += 1
                statuses[index] = 0
                if writer is not None:
                    writer.close()
                writer = None
                continue
            statuses[index], latencies[index] = status, ended - started
            bodies[(status, body[:40].decode("utf-8", "replace"))] += 1
            if close:
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    ended = time.perf_counter()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "statuses": statuses, "latencies": latencies, "bodies": dict(bodies), "errors": dict(errors),
        "wall": ended - began, "load_cpu": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    with open(args.input, "rb") as handle:
        requests = pickle.load(handle)
    report = asyncio.run(_main(requests, args.port, args.concurrency))
    with open(args.output, "wb") as handle:
        pickle.dump(report, handle)


if __name__ == "__main__":
    main()

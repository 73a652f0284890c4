"""Ingest throughput: the service's AMI path against bare panoramisk on the same bytes.

    .venv/bin/python bench/ingest.py [--events 1000000] [--trace ...] [--filtered-trace ...]

A recorded real trace from the rig (tests/fixtures/ami) is scaled to at least ``--events``
events: copy k renames every Uniqueid/Linkedid/Channel (and Dest*) value with a ``~k``
suffix and shifts the Timestamps by k trace spans, so every copy is a fresh set of calls
later in time. A child process serves the bytes over local TCP like an Asterisk would
(banner, Login answer, then the events as fast as the reader takes them). It prints:

1. the unfiltered stream through the service's path (``AmiLink`` framing → ``Ingest``:
   metrics, ``parse_event`` → ``LiveModel.apply`` → a ``Hub`` with one draining subscriber)
   and through ``panoramisk.Manager`` 1.4 with a no-op ``register_event('*')`` handler:
   events/s of each, their ratio, and the service's RSS before and after;
2. the filtered stream (as the service's own AMI filters leave it) through the service's
   path: CPU milliseconds per queue call (``time.process_time()`` over the run ÷ calls).

Targets (issue 3): service ≥ 50 % of bare panoramisk's rate, flat memory, ≤ 0.5 ms CPU per
queue call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from callcenter.ami.link import AmiLink
from callcenter.feed.hub import Hub
from callcenter.feed.ingest import Ingest
from callcenter.feed.publisher import FeedPublisher
from callcenter.live import LiveModel
from callcenter.live.replay import load_trace
from callcenter.metrics import ServiceMetrics
from callcenter.settings import PbxSettings

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ami"
ID_FIELDS = ("Uniqueid", "Linkedid", "Channel", "DestUniqueid", "DestLinkedid", "DestChannel")
MARK = "\x00"  # where a copy's id suffix goes in the frame template
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


# --------------------------------------------------------------------------- the trace


@dataclass(frozen=True)
class Template:
    """One trace as frame templates: (text before the Timestamp, timestamp, text after)."""

    frames: tuple[tuple[str, float | None, str], ...]
    span: float
    queue_calls: int

    @classmethod
    def load(cls, path: Path) -> Template:
        frames = []
        stamps = []
        calls = 0
        for _at, fields in load_trace(path):
            if "ActionID" in fields:
                continue  # the QueueStatus snapshot is not part of the stream
            calls += fields.get("Event") == "QueueCallerJoin"
            before, after, stamp = "", "", None
            for key, value in fields.items():
                if key in ID_FIELDS and value and value != "<unknown>":
                    value += MARK
                line = f"{key}: {value}\r\n"
                if key == "Timestamp":
                    stamp = float(value)
                    stamps.append(stamp)
                    before += "Timestamp: "
                    continue
                if stamp is None:
                    before += line
                else:
                    after += line
            frames.append((before, stamp, ("\r\n" if stamp is not None else "") + after + "\r\n"))
        span = (max(stamps) - min(stamps) + 1.0) if stamps else 1.0
        return cls(tuple(frames), span, calls)

    def copy(self, k: int) -> bytes:
        suffix = f"~{k}"
        shift = k * self.span
        parts = []
        for before, stamp, after in self.frames:
            if stamp is None:
                parts.append(before + after)
            else:
                parts.append(f"{before}{stamp + shift:.6f}{after}")
        return "".join(parts).replace(MARK, suffix).encode()


# --------------------------------------------------------------------------- the "PBX"


def serve(template: Template, copies: int, port_out: Any, ready: Any) -> None:
    """Child process: one connection at a time, each gets the whole scaled stream."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port_out.send(server.getsockname()[1])
        while True:
            connection, _ = server.accept()
            with connection:
                connection.sendall(BANNER)
                login = _read_action(connection)
                if login.get("Action") == "Quit":
                    return
                connection.sendall(
                    f"Response: Success\r\nActionID: {login.get('ActionID', '')}\r\n"
                    "Message: Authentication accepted\r\n\r\n".encode()
                )
                ready.recv()  # the client measures from here
                for k in range(copies):
                    connection.sendall(template.copy(k))
                # Wait for the client to hang up.
                with contextlib.suppress(OSError):
                    while connection.recv(65536):
                        pass


def _read_action(connection: socket.socket) -> dict[str, str]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            return {}
        data += chunk
    fields = {}
    for line in data.split(b"\r\n\r\n", 1)[0].decode().split("\r\n"):
        key, _, value = line.partition(": ")
        fields[key] = value
    return fields


@contextlib.contextmanager
def pbx(template: Template, copies: int) -> Iterator[tuple[int, Any]]:
    ctx = multiprocessing.get_context("fork")
    port_in, port_out = ctx.Pipe(duplex=False)
    go_in, go_out = ctx.Pipe(duplex=False)
    child = ctx.Process(target=serve, args=(template, copies, port_out, go_in), daemon=True)
    child.start()
    try:
        yield port_in.recv(), go_out
    finally:
        child.kill()
        child.join()


# --------------------------------------------------------------------------- readers


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


@dataclass
class Run:
    events: int
    seconds: float
    cpu_seconds: float
    rss_before: float
    rss_after: float
    extra: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.seconds


async def _wait_count(count: list[int], expected: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while count[0] < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {count[0]} of {expected} events arrived")
        await asyncio.sleep(0.01)


async def run_service(port: int, go: Any, expected: int) -> Run:
    model = LiveModel()
    metrics = ServiceMetrics()
    hub = Hub()
    subscriber = hub.subscribe()
    sent = [0]

    async def drain() -> None:  # stands for the WebSocket writer of /ws/live
        while True:
            text = await subscriber.queue.get()
            if text is None:
                return
            sent[0] += 1

    ingest = Ingest(model, metrics, [FeedPublisher(hub)])
    count = [0]

    def on_event(pbx_name: str, fields: dict[str, str], at: datetime) -> None:
        count[0] += 1
        ingest.on_ami_event(pbx_name, fields, at)

    settings = PbxSettings(
        name="bench",
        host="127.0.0.1",
        port=port,
        username="bench",
        secret=SecretStr("bench"),
        ping_interval=3600,
        action_timeout=30,
    )
    link = AmiLink(settings, on_event)
    drainer = asyncio.ensure_future(drain())
    task = asyncio.ensure_future(link.run())
    while not link.connected:
        await asyncio.sleep(0.01)
    gc.collect()
    before = rss_mb()
    go.send(True)
    cpu, wall = time.process_time(), time.perf_counter()
    await _wait_count(count, expected)
    await asyncio.sleep(0.2)  # the feed's last batch goes out, the drainer catches up
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    gc.collect()
    after = rss_mb()
    dropped = subscriber.dropped
    await link.stop()
    await task
    hub.close()
    await drainer
    snapshot = model.snapshot()
    extra = (
        f"changes pushed to the subscriber: {sent[0]:,}"
        f"{' (DROPPED as too slow)' if dropped else ''}; open calls at the end: "
        f"{len(snapshot.calls)}; ignored events: {snapshot.ignored_events:,}"
    )
    return Run(count[0], wall, cpu, before, after, extra)


async def run_panoramisk(port: int, go: Any, expected: int) -> Run:
    from panoramisk import Manager

    count = [0]

    def noop(_manager: Any, _message: Any) -> None:
        count[0] += 1

    manager = Manager(
        host="127.0.0.1",
        port=port,
        username="bench",
        secret="bench",
        ping_delay=3600,
        loop=asyncio.get_running_loop(),
    )
    manager.register_event("*", noop)
    await manager.connect()
    while not manager.authenticated:
        await asyncio.sleep(0.01)
    gc.collect()
    before = rss_mb()
    go.send(True)
    cpu, wall = time.process_time(), time.perf_counter()
    await _wait_count(count, expected)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    gc.collect()
    after = rss_mb()
    manager.close()
    return Run(count[0], wall, cpu, before, after)


def measure(kind: str, template: Template, copies: int) -> Run:
    expected = len(template.frames) * copies
    with pbx(template, copies) as (port, go):
        runner = run_service if kind == "service" else run_panoramisk
        return asyncio.run(runner(port, go, expected))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--trace", type=Path, default=FIXTURES / "mixed.unfiltered.jsonl.gz")
    parser.add_argument("--filtered-trace", type=Path, default=FIXTURES / "mixed.jsonl")
    parser.add_argument(
        "--profile",
        choices=["service", "filtered"],
        help="run that part under cProfile and print the top functions",
    )
    args = parser.parse_args()

    raw = Template.load(args.trace)
    copies = -(-args.events // len(raw.frames))
    print(
        f"trace {args.trace.name}: {len(raw.frames)} events, {raw.queue_calls} queue calls, "
        f"span {raw.span:.0f} s; x{copies:,} copies = {len(raw.frames) * copies:,} events, "
        f"{len(raw.copy(0)) * copies / 1e6:,.0f} MB"
    )
    if args.profile:
        profile(args.profile, raw, Template.load(args.filtered_trace), copies)
        return

    service = measure("service", raw, copies)
    bare = measure("panoramisk", raw, copies)
    print(
        f"service (AmiLink → Ingest → LiveModel → Hub): {service.rate:>10,.0f} events/s "
        f"({service.events:,} in {service.seconds:.1f} s, CPU {service.cpu_seconds:.1f} s)"
    )
    print(
        f"bare panoramisk 1.4, no-op '*' handler:      {bare.rate:>10,.0f} events/s "
        f"({bare.events:,} in {bare.seconds:.1f} s, CPU {bare.cpu_seconds:.1f} s)"
    )
    print(f"ratio service / panoramisk: {service.rate / bare.rate:.0%} (target ≥ 50 %)")
    print(
        f"service RSS before {service.rss_before:.1f} MB, after {service.rss_after:.1f} MB "
        f"(Δ {service.rss_after - service.rss_before:+.1f} MB); {service.extra}"
    )

    filtered = Template.load(args.filtered_trace)
    calls = filtered.queue_calls * copies
    run = measure("service", filtered, copies)
    print(
        f"filtered stream {args.filtered_trace.name}: {len(filtered.frames)} events per copy, "
        f"{run.events:,} events, {calls:,} queue calls in {run.seconds:.1f} s"
    )
    print(
        f"CPU per queue call: {run.cpu_seconds / calls * 1000:.3f} ms (target ≤ 0.5 ms); "
        f"{run.rate:,.0f} events/s; RSS {run.rss_before:.1f} → {run.rss_after:.1f} MB"
    )
    print(
        json.dumps(
            {
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "service_events_per_s": round(service.rate),
                "panoramisk_events_per_s": round(bare.rate),
                "ratio": round(service.rate / bare.rate, 3),
                "rss_mb": [round(service.rss_before, 1), round(service.rss_after, 1)],
                "cpu_ms_per_queue_call": round(run.cpu_seconds / calls * 1000, 4),
            }
        )
    )


def profile(part: str, raw: Template, filtered: Template, copies: int) -> None:
    import cProfile
    import pstats

    template = raw if part == "service" else filtered
    profiler = cProfile.Profile()
    profiler.enable()
    run = measure("service", template, max(1, copies // 5))
    profiler.disable()
    print(f"{run.events:,} events at {run.rate:,.0f}/s under the profiler")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()

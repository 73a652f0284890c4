"""Screen-pop latency: N logged-in agent WebSockets on one real `callcenter serve`, fed by a
replayed AMI stream from a local TCP AMI server this script runs.

The service connects to that server as to Asterisk (it answers Login, Ping, Filter,
QueueStatus and CoreShowChannels with empty lists). Every call is QueueCallerJoin +
AgentCalled (with a Timestamp header), then Leave + AgentConnect, then AgentComplete + Hangup.
The latency is from just before the AgentCalled bytes are written to the pop arriving at the
ringing agent's WebSocket (the same clock: both ends live in this process, so the figure
includes this script's own event-loop delays). Also printed: the service's CPU and RSS.

    .venv/bin/python bench/screenpop.py [--agents 2000] [--rate 100] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from callcenter.auth.models import SessionRow, UserRow  # noqa: E402
from callcenter.auth.passwords import hash_password  # noqa: E402
from callcenter.customers.models import CustomerRow  # noqa: E402
from callcenter.store.db import create_engine  # noqa: E402
from callcenter.store.migrate import upgrade_to_head  # noqa: E402

CUSTOMERS = 20_000
timeline: list[tuple[float, float]] = []
client_lag: list[tuple[float, float]] = []  # (when, ms this script's own loop was late)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def interface(agent: int) -> str:
    return f"PJSIP/b{agent:05d}"


def customer_number(n: int) -> str:
    return f"139{n:08d}"


async def prepare_database(url: str, agents: int) -> list[str]:
    """Users, their sessions (tokens returned) and customers, written straight to the DB."""
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        now = datetime.now(UTC)
        password_hash = hash_password("bench-Kettle-Harbour-93")
        tokens = [secrets.token_urlsafe(32) for _ in range(agents)]
        async with engine.begin() as connection:
            await connection.execute(
                insert(UserRow),
                [
                    {
                        "id": i + 1,
                        "username": f"agent{i:05d}",
                        "display_name": f"坐席{i}",
                        "role": "agent",
                        "password_hash": password_hash,
                        "interfaces": [interface(i)],
                        "language": "zh",
                        "disabled": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(agents)
                ],
            )
            await connection.execute(
                insert(SessionRow),
                [
                    {
                        "token_hash": hashlib.sha256(t.encode()).hexdigest(),
                        "user_id": i + 1,
                        "created_at": now,
                        "expires_at": now + timedelta(hours=4),
                    }
                    for i, t in enumerate(tokens)
                ],
            )
            await connection.execute(
                insert(CustomerRow),
                [
                    {
                        "name": f"客户{n}",
                        "phones": ["+86" + customer_number(n)],
                        "account_number": f"AC{n:08d}",
                        "vip_level": n % 5,
                        "language": "zh",
                        "tags": [],
                        "notes": "",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(CUSTOMERS)
                ],
            )
        return tokens
    finally:
        await engine.dispose()


def frame(fields: dict[str, Any]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n"


class BenchAmi:
    """Answers the service's actions like Asterisk with nothing going on; pushes events."""

    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self.ready = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        with contextlib.suppress(
            ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError
        ):
            while True:
                block = (await reader.readuntil(b"\r\n\r\n")).decode()
                action = dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
                name, action_id = action.get("Action", ""), action.get("ActionID", "")
                if name in ("QueueStatus", "CoreShowChannels"):
                    writer.write(
                        frame(
                            {
                                "Response": "Success",
                                "ActionID": action_id,
                                "EventList": "start",
                                "Message": "will follow",
                            }
                        )
                    )
                    writer.write(
                        frame(
                            {
                                "Event": f"{name}Complete",
                                "ActionID": action_id,
                                "EventList": "Complete",
                                "ListItems": 0,
                            }
                        )
                    )
                    if name == "CoreShowChannels":
                        self.writer = writer
                        self.ready.set()
                else:
                    writer.write(
                        frame(
                            {
                                "Response": "Success",
                                "ActionID": action_id,
                                "Message": "ok",
                                **({"Ping": "Pong"} if name == "Ping" else {}),
                            }
                        )
                    )

    def send(self, *frames: dict[str, Any]) -> None:
        assert self.writer is not None
        stamp = f"{time.time():.6f}"
        self.writer.write(
            b"".join(frame({"Event": f.pop("Event"), "Timestamp": stamp, **f}) for f in frames)
        )


def call_frames(n: int, uid: str, agent: int, number: str) -> dict[str, list[dict[str, Any]]]:
    chan = f"PJSIP/caller-{n:08x}"
    base = {"Queue": "bench", "Channel": chan, "Uniqueid": uid, "Linkedid": uid}
    member = {
        **base,
        "Interface": interface(agent),
        "MemberName": f"Agent {agent}",
        "DestChannel": f"{interface(agent)}-{n:08x}",
        "DestUniqueid": uid + ".1",
    }
    return {
        "ring": [
            {
                "Event": "QueueCallerJoin",
                **base,
                "Position": 1,
                "Count": 1,
                "CallerIDNum": number,
                "CallerIDName": "",
            },
            {"Event": "AgentCalled", **member, "CallerIDNum": number, "CallerIDName": ""},
        ],
        "answer": [
            {"Event": "QueueCallerLeave", **base, "Position": 1, "Count": 0},
            {
                "Event": "AgentConnect",
                **member,
                "CallerIDNum": number,
                "CallerIDName": "",
                "HoldTime": 1,
                "RingTime": 1,
            },
        ],
        "end": [
            {"Event": "AgentComplete", **member, "HoldTime": 1, "TalkTime": 2, "Reason": "caller"},
            {
                "Event": "Hangup",
                "Channel": chan,
                "Uniqueid": uid,
                "Linkedid": uid,
                "Cause": 16,
                "Cause-txt": "Normal Clearing",
            },
        ],
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_service(config: Path, workdir: Path, profile: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    with (workdir / "service.log").open("wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                *(["-m", "cProfile", "-o", profile] if profile else []),
                "-m",
                "callcenter",
                "serve",
                "--config",
                str(config),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=env,
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def agent_client(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    agent: int,
    written: dict[str, float],
    latencies: list[float],
    errors: list[str],
    connected: asyncio.Event,
    counter: list[int],
    total: int,
) -> None:
    async with session.ws_connect(
        url, headers={"Cookie": f"cc_session={token}"}, heartbeat=None
    ) as ws:
        async for message in ws:
            data = json.loads(message.data)
            if data["type"] == "hello":
                counter[0] += 1
                if counter[0] == total:
                    connected.set()
            elif data["type"] == "pop":
                arrived = time.perf_counter()
                pop = data["pop"]
                if pop["interface"] != interface(agent):
                    errors.append(f"agent {agent} got a pop for {pop['interface']}")
                sent = written.get(pop["uniqueid"])
                if sent is not None:
                    latencies.append((arrived - sent) * 1000)
                    timeline.append((sent, (arrived - sent) * 1000))


async def watch_own_loop() -> None:
    """This script's own stalls: a pop that waits here is counted as late."""
    while True:
        due = time.perf_counter() + 0.01
        await asyncio.sleep(0.01)
        client_lag.append((due, max(0.0, time.perf_counter() - due) * 1000))


def write_config(workdir: Path, url: str, ami_port: int, extra_toml: str) -> tuple[Path, int]:
    """The service's config file; returns it and the HTTP port it names."""
    http_port = free_port()
    config = workdir / "callcenter.toml"
    config.write_text(
        "\n".join(
            [
                'log_level = "WARNING"',
                "[database]",
                f'url = "{url}"',
                "[http]",
                f"port = {http_port}",
                f"metrics_port = {free_port()}",
                "[fastagi]",
                f"port = {free_port()}",
                "[[pbx]]",
                'name = "bench"',
                'host = "127.0.0.1"',
                f"port = {ami_port}",
                'username = "bench"',
                'secret = "bench-secret"',
                "ping_interval = 10",
            ]
        )
        + "\n"
        + extra_toml.replace("\\n", "\n"),
        encoding="utf-8",
    )
    return config, http_port


async def wait_healthy(base: str) -> None:
    """Until /healthz answers 200 (at most about 30 s)."""
    async with aiohttp.ClientSession() as probe:
        for _ in range(300):
            with contextlib.suppress(aiohttp.ClientError):
                async with probe.get(base + "/healthz") as response:
                    if response.status == 200:
                        break
            await asyncio.sleep(0.1)


async def open_agent_sockets(
    session: aiohttp.ClientSession,
    ws_url: str,
    tokens: list[str],
    written: dict[str, float],
    latencies: list[float],
    errors: list[str],
) -> list[asyncio.Task[None]]:
    """One logged-in agent WebSocket per token, each open and greeted when this returns."""
    connected = asyncio.Event()
    counter = [0]
    started = time.perf_counter()
    clients: list[asyncio.Task[None]] = []
    for agent, token in enumerate(tokens):
        clients.append(
            asyncio.ensure_future(
                agent_client(
                    session,
                    ws_url,
                    token,
                    agent,
                    written,
                    latencies,
                    errors,
                    connected,
                    counter,
                    len(tokens),
                )
            )
        )
        if agent % 100 == 99:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(connected.wait(), 120)
    print(
        f"{len(tokens)} agent sockets logged in and open in {time.perf_counter() - started:.1f} s"
    )
    return clients


async def feed_calls(
    ami: BenchAmi, args: argparse.Namespace, written: dict[str, float]
) -> tuple[int, float]:
    """Ring, answer and end ``rate`` x ``seconds`` calls at the given rate; returns how many
    and the seconds feeding them took."""
    loop = asyncio.get_running_loop()
    total = int(args.rate * args.seconds)
    begin = time.perf_counter()
    for n in range(total):
        delay = begin + n / args.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        uid = f"bench-{n}"
        agent = n % args.agents
        number = customer_number(n % CUSTOMERS) if n % 5 else f"137{n:08d}"
        frames = call_frames(n, uid, agent, number)
        written[uid] = time.perf_counter()
        ami.send(*frames["ring"])
        loop.call_later(1.0, ami.send, *frames["answer"])
        loop.call_later(3.0, ami.send, *frames["end"])
    return total, time.perf_counter() - begin


def print_feed(total: int, feed_seconds: float, agents: int) -> None:
    print(
        f"fed {total} calls in {feed_seconds:.1f} s ({total / feed_seconds:.0f} calls/s) "
        f"to {agents} agents"
    )


def print_pops(total: int, latencies: list[float], errors: list[str]) -> None:
    print(f"pops received: {len(latencies)} / {total}; pops on a wrong socket: {len(errors)}")
    if latencies:
        print(
            f"pop latency ms: p50 {percentile(latencies, 0.50):.1f}  "
            f"p95 {percentile(latencies, 0.95):.1f}  "
            f"p99 {percentile(latencies, 0.99):.1f}  max {max(latencies):.1f}  "
            f"mean {statistics.fmean(latencies):.1f}"
        )


def print_timeline() -> None:
    """The worst pop latency and this script's own worst loop lag, second by second."""
    start = min(t for t, _ in timeline)
    buckets: dict[int, list[float]] = {}
    for sent, latency in timeline:
        buckets.setdefault(int(sent - start), []).append(latency)
    print("second: max ms  " + "  ".join(f"{k}:{max(v):.0f}" for k, v in sorted(buckets.items())))
    lags: dict[int, float] = {}
    for when, lag in client_lag:
        lags[int(when - start)] = max(lag, lags.get(int(when - start), 0.0))
    print(
        "second: this script's own worst loop lag ms  "
        + "  ".join(f"{k}:{v:.0f}" for k, v in sorted(lags.items()) if k >= 0)
    )


def print_stalls(workdir: Path) -> None:
    stalls = [
        line
        for line in (workdir / "service.log").read_text(errors="replace").splitlines()
        if "event loop held" in line
    ]
    print(f"service loop stalls >= 100 ms: {len(stalls)}")
    for line in stalls[:20]:
        print("  ", line)


def stop_service(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-pop-"))
    ami = BenchAmi()
    process: subprocess.Popen[bytes] | None = None
    try:
        url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        started = time.perf_counter()
        tokens = await prepare_database(url, args.agents)
        print(
            f"prepared {args.agents} users + sessions, {CUSTOMERS} customers in "
            f"{time.perf_counter() - started:.1f} s"
        )
        ami_port = await ami.start()
        config, http_port = write_config(workdir, url, ami_port, args.extra_toml)
        process = start_service(config, workdir, args.profile)
        await asyncio.wait_for(ami.ready.wait(), 60)
        base = f"http://127.0.0.1:{http_port}"
        await wait_healthy(base)

        written: dict[str, float] = {}
        latencies: list[float] = []
        errors: list[str] = []
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            clients = await open_agent_sockets(
                session,
                base.replace("http", "ws") + "/ws/agent",
                tokens,
                written,
                latencies,
                errors,
            )
            # The 2,000 client sockets live in this process too: keep its own collector's
            # full passes out of the measured latency (the service does the same at start).
            gc.collect()
            gc.freeze()
            await asyncio.sleep(1)

            watcher = asyncio.ensure_future(watch_own_loop())
            cpu_before, wall_before = cpu_seconds(process.pid), time.perf_counter()
            total, feed_seconds = await feed_calls(ami, args, written)
            await asyncio.sleep(4)
            cpu = cpu_seconds(process.pid) - cpu_before
            wall = time.perf_counter() - wall_before
            rss = rss_mib(process.pid)
            watcher.cancel()
            for client in clients:
                client.cancel()
            await asyncio.gather(*clients, return_exceptions=True)

        print_feed(total, feed_seconds, args.agents)
        print_pops(total, latencies, errors)
        print(
            f"service CPU {100 * cpu / wall:.0f}% of one core over {wall:.0f} s; RSS {rss:.0f} MiB"
        )
        if args.timeline and timeline:
            print_timeline()
        for error in errors[:5]:
            print("  ", error)
        print_stalls(workdir)
    finally:
        if process is not None:
            stop_service(process)
        await ami.close()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0, help="new calls per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to feed calls")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder and log")
    parser.add_argument("--timeline", action="store_true", help="worst latency per second")
    parser.add_argument("--profile", default="", help="write the service's cProfile here")
    parser.add_argument("--extra-toml", default="", help="appended to the service's config")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

"""Record the AMI trace fixtures of tests/fixtures/ami from a real rig under mixed traffic.

    .venv/bin/python bench/record_traces.py [--out tests/fixtures/ami] [--keep-unfiltered mixed]

Starts its own rig (taking the machine-wide rig lock the tests use), runs each scenario
with SIPp phones and callers (and one Local-channel caller with a Chinese name), and
records two AMI connections side by side: one with the service's own event filters (the
fixture the replay tests use) and one without any. For each scenario it writes
``<scenario>.jsonl`` (filtered), ``<scenario>.queue_log`` (Asterisk's queue_log lines of that
queue during the scenario, what the replay tests compare against) and prints how much of
the stream the filters removed. Unfiltered traces are kept only for the scenarios named by
``--keep-unfiltered`` (as ``<scenario>.unfiltered.jsonl``; the bench replays one).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import gzip
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from callcenter.ami.filters import event_filters
from callcenter.ami.record import TraceRecorder, frame_bytes
from callcenter.live.replay import load_trace
from callcenter.rig import AMI_HOST, AMI_PORT, AMI_SECRET, AMI_USERNAME, AsteriskRig
from callcenter.rig.asterisk import ensure_rootfs
from callcenter.rig.sipp import AgentPhone, kill_all_sipp, start_calls
from callcenter.settings import PbxSettings

log = logging.getLogger("record_traces")

RIG_LOCK = Path(os.environ.get("CALLCENTER_RIG_LOCK", "/tmp/callcenter-rig.lock"))
QUEUE_EVENTS = ("QueueCallerJoin",)


@dataclass
class Context:
    rig: AsteriskRig
    unfiltered: TraceRecorder
    work: Path

    async def rx(self, command: str) -> str:
        return await asyncio.to_thread(self.rig.rx, command)

    def phone(self, ext: int, answer: bool = True) -> AgentPhone:
        phone = AgentPhone(ext, ring_seconds=1.0, answer=answer, work_dir=self.work)
        phone.start()
        return phone

    async def wait_queue_log(
        self, queue: str, event: str, count: int = 1, timeout: float = 40
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = [
                f
                for f in self.rig.queue_log_lines()
                if len(f) > 4 and f[2] == queue and f[4] == event and float(f[0]) >= self.started
            ]
            if len(seen) >= count:
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"no {count} x {event} in queue {queue} within {timeout} s")

    started: float = 0.0


async def answered(ctx: Context) -> None:
    phone = ctx.phone(1003)
    await ctx.rx('queue add member PJSIP/1003 to consultation penalty 0 as "Agent 1003"')
    try:
        batch = start_calls(
            1,
            dial="consultation",
            caller_numbers=["13800000101"],
            hold_seconds=6.0,
            work_dir=ctx.work,
        )
        await batch.wait_async(30)
    finally:
        await ctx.rx("queue remove member PJSIP/1003 from consultation")
        phone.stop()


async def abandoned(ctx: Context) -> None:
    # One SIP caller and one Local-channel caller with a Chinese name; nobody to answer.
    batch = start_calls(
        1, dial="complaints", caller_numbers=["13800000201"], hold_seconds=3.0, work_dir=ctx.work
    )
    await ctx.unfiltered.link.send(
        {
            "Action": "Originate",
            "Channel": "Local/complaints@local-callers",
            "Application": "Wait",
            "Data": "4",
            "CallerID": '"王小明" <13800000202>',
            "Async": "true",
        }
    )
    await batch.wait_async(30)
    await ctx.wait_queue_log("complaints", "ABANDON", 2)


async def timed_out(ctx: Context) -> None:
    await ctx.rx("dialplan set global HOTLINE_QUEUE_TIMEOUT 3")
    try:
        batch = start_calls(
            1,
            dial="aftersales",
            caller_numbers=["13800000301"],
            hold_seconds=10.0,
            work_dir=ctx.work,
        )
        await ctx.wait_queue_log("aftersales", "ENTERQUEUE")
    finally:
        await ctx.rx("dialplan set global HOTLINE_QUEUE_TIMEOUT 60")
    await batch.wait_async(30)


async def ring_no_answer(ctx: Context) -> None:
    # 1005 rings and never answers; 1006 is paused for the first ring pass, so the call
    # rings 1005 first, times out on it (queue timeout 15 s) and is answered by 1006.
    deaf, good = ctx.phone(1005, answer=False), ctx.phone(1006)
    await ctx.rx('queue add member PJSIP/1005 to overflow penalty 0 as "Agent 1005"')
    await ctx.rx('queue add member PJSIP/1006 to overflow penalty 0 as "Agent 1006"')
    await ctx.rx("queue pause member PJSIP/1006 queue overflow reason lunch")
    try:
        batch = start_calls(
            1, dial="overflow", caller_numbers=["13800000401"], hold_seconds=24.0, work_dir=ctx.work
        )
        await ctx.wait_queue_log("overflow", "ENTERQUEUE")
        await asyncio.sleep(2)
        await ctx.rx("queue unpause member PJSIP/1006 queue overflow")
        await batch.wait_async(40)
    finally:
        await ctx.rx("queue remove member PJSIP/1005 from overflow")
        await ctx.rx("queue remove member PJSIP/1006 from overflow")
        deaf.stop()
        good.stop()


async def pause_remove(ctx: Context) -> None:
    # The answering member is paused, then removed, while it talks to the caller.
    phone = ctx.phone(1007)
    await ctx.rx('queue add member PJSIP/1007 to aftersales penalty 0 as "Agent 1007"')
    try:
        batch = start_calls(
            1,
            dial="aftersales",
            caller_numbers=["13800000501"],
            hold_seconds=8.0,
            work_dir=ctx.work,
        )
        await ctx.wait_queue_log("aftersales", "CONNECT")
        await ctx.rx("queue pause member PJSIP/1007 queue aftersales reason coaching")
        await asyncio.sleep(1)
        await ctx.rx("queue remove member PJSIP/1007 from aftersales")
        await batch.wait_async(30)
    finally:
        phone.stop()


async def mixed(ctx: Context) -> None:
    # support's static members 1001 and 1002 answer; six callers a second apart, two of
    # whom give up while waiting for a free agent.
    phones = [ctx.phone(1001), ctx.phone(1002)]
    try:
        numbers = [f"138000006{i:02d}" for i in range(1, 7)]
        batch = start_calls(
            6,
            dial="support",
            caller_numbers=numbers,
            hold_seconds=[8, 8, 8, 2, 8, 3],
            rate_per_s=1.0,
            work_dir=ctx.work,
        )
        await batch.wait_async(60)
    finally:
        for phone in phones:
            phone.stop()


SCENARIOS: dict[str, tuple[str, Callable[[Context], Awaitable[None]]]] = {
    "answered": ("consultation", answered),
    "abandoned": ("complaints", abandoned),
    "timed_out": ("aftersales", timed_out),
    "ring_no_answer": ("overflow", ring_no_answer),
    "pause_remove": ("aftersales", pause_remove),
    "mixed": ("support", mixed),
}


def stream_stats(path: Path) -> tuple[int, int]:
    events = bytes_ = 0
    for _at, fields in load_trace(path):
        if "ActionID" in fields:
            continue  # the QueueStatus snapshot at the start is not part of the stream
        events += 1
        bytes_ += frame_bytes(fields)
    return events, bytes_


def queue_calls(path: Path) -> int:
    return sum(1 for _at, f in load_trace(path) if f.get("Event") in QUEUE_EVENTS)


async def run(out: Path, work: Path, keep_unfiltered: set[str], only: list[str]) -> None:
    rig = AsteriskRig(work / "rig")
    rig.start()
    pbx = PbxSettings(
        name="rig",
        host=AMI_HOST,
        port=AMI_PORT,
        username=AMI_USERNAME,
        secret=SecretStr(AMI_SECRET),
    )
    filtered = TraceRecorder(pbx, event_filters("CC_"))
    unfiltered = TraceRecorder(pbx)
    ctx = Context(rig, unfiltered, work)
    rows = []
    try:
        await filtered.start()
        await unfiltered.start()
        for name in only:
            queue, scenario = SCENARIOS[name]
            raw_path = (out if name in keep_unfiltered else work) / f"{name}.unfiltered.jsonl"
            header = (
                f"AMI trace '{name}' (queue {queue}) recorded from the rig by "
                "bench/record_traces.py"
            )
            filtered.switch(out / f"{name}.jsonl", header + " with the service's filters")
            unfiltered.switch(raw_path, header + " without filters")
            await filtered.write_snapshot(queue)
            await unfiltered.write_snapshot(queue)
            ctx.started = time.time() - 0.5
            log.info("scenario %s", name)
            await scenario(ctx)
            await asyncio.sleep(2.0)  # the last Hangups and member updates
            filtered.switch(None)
            unfiltered.switch(None)
            lines = [
                f
                for f in rig.queue_log_lines()
                if float(f[0]) >= ctx.started and len(f) > 2 and f[2] == queue
            ]
            (out / f"{name}.queue_log").write_text(
                "".join("|".join(f) + "\n" for f in lines), encoding="utf-8"
            )
            calls = queue_calls(out / f"{name}.jsonl")
            rows.append((name, calls, stream_stats(raw_path), stream_stats(out / f"{name}.jsonl")))
            if name in keep_unfiltered:  # kept compressed: ~20 times smaller
                with raw_path.open("rb") as raw, gzip.open(f"{raw_path}.gz", "wb", 9) as packed:
                    shutil.copyfileobj(raw, packed)
                raw_path.unlink()
    finally:
        await filtered.stop()
        await unfiltered.stop()
        kill_all_sipp()
        rig.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(rows)


def report(rows: list[tuple[str, int, tuple[int, int], tuple[int, int]]]) -> None:
    print(
        f"{'scenario':<16}{'calls':>6}{'raw ev/call':>13}{'raw B/call':>12}"
        f"{'filt ev/call':>14}{'filt B/call':>13}{'events kept':>13}{'bytes kept':>12}"
    )
    total = [0, 0, 0, 0, 0]
    for name, calls, (raw_e, raw_b), (f_e, f_b) in rows:
        n = max(calls, 1)
        print(
            f"{name:<16}{calls:>6}{raw_e / n:>13.1f}{raw_b / n:>12.0f}{f_e / n:>14.1f}"
            f"{f_b / n:>13.0f}{f_e / max(raw_e, 1):>13.1%}{f_b / max(raw_b, 1):>12.1%}"
        )
        for i, v in enumerate((calls, raw_e, raw_b, f_e, f_b)):
            total[i] += v
    calls, raw_e, raw_b, f_e, f_b = total
    n = max(calls, 1)
    print(
        f"{'all':<16}{calls:>6}{raw_e / n:>13.1f}{raw_b / n:>12.0f}{f_e / n:>14.1f}"
        f"{f_b / n:>13.0f}{f_e / max(raw_e, 1):>13.1%}{f_b / max(raw_b, 1):>12.1%}"
    )
    print(
        json.dumps(
            {
                "calls": calls,
                "raw_events": raw_e,
                "raw_bytes": raw_b,
                "filtered_events": f_e,
                "filtered_bytes": f_b,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/ami"))
    parser.add_argument("--keep-unfiltered", default="mixed")
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    lock = os.open(RIG_LOCK, os.O_CREAT | os.O_RDWR, 0o666)
    print(f"waiting for the rig lock {RIG_LOCK}...", flush=True)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        ensure_rootfs()
        work = Path(tempfile.mkdtemp(prefix="record-traces-"))
        asyncio.run(run(args.out, work, set(args.keep_unfiltered.split(",")), args.scenarios))
    finally:
        os.close(lock)


if __name__ == "__main__":
    main()

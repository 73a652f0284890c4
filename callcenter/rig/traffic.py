"""Gentle demo traffic on the rig: K agent phones and a steady trickle of callers.

One SIPp UAC process places the calls at a fixed average rate (SIPp has no jitter);
each caller gets its own random hold time from the injection file, and a share of them
hang up early (they abandon if no agent took them by then). Stopping kills every SIPp.

    stop = asyncio.Event()
    task = asyncio.create_task(run_traffic(stop, agents=4, rig=rig))
    ...
    stop.set(); await task

or ``python -m callcenter.rig.traffic`` against a running rig (Ctrl-C stops it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

from callcenter.rig.asterisk import AsteriskRig, RigError
from callcenter.rig.sipp import FIRST_AGENT_EXT, AgentPhones, CallBatch, PhoneStats, start_calls

log = logging.getLogger(__name__)

# SIPp reads the injection file in a loop, so a few hundred rows vary enough.
_CSV_ROWS = 500


@dataclass(frozen=True)
class TrafficPlan:
    agents: int = 4
    first_ext: int = FIRST_AGENT_EXT
    dial: str = "support"
    seconds_between_calls: float = 4.0
    hold_range: tuple[float, float] = (20.0, 40.0)
    early_hangup_share: float = 0.2
    early_hold_range: tuple[float, float] = (3.0, 10.0)
    ring_seconds: float = 2.0

    def hold_times(self, rng: random.Random) -> list[float]:
        """One hold time per injection row; some callers give up early."""
        holds = []
        for _ in range(_CSV_ROWS):
            low, high = (
                self.early_hold_range if rng.random() < self.early_hangup_share else self.hold_range
            )
            holds.append(round(rng.uniform(low, high), 1))
        return holds


class Traffic:
    """Start/stop handle for demo traffic (synchronous; see run_traffic for asyncio)."""

    def __init__(
        self,
        plan: TrafficPlan | None = None,
        *,
        rig: AsteriskRig | None = None,
        seed: int | None = None,
        work_dir: Path | None = None,
    ) -> None:
        self.plan = plan or TrafficPlan()
        self.rig = rig
        self._rng = random.Random(seed)
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="callcenter-traffic-"))
        # Agents just hang on until the caller leaves (talk ends with the caller's hold).
        self.phones = AgentPhones(
            self.plan.agents,
            first_ext=self.plan.first_ext,
            ring_seconds=self.plan.ring_seconds,
            talk_seconds=None,
            work_dir=self.work_dir,
        )
        self._calls: CallBatch | None = None

    def _add_members(self) -> None:
        """Make the phones members of the dialled queue (static ones are kept)."""
        if self.rig is None:
            return
        for ext in self.phones.extensions:
            try:
                self.rig.rx(f"queue add member PJSIP/{ext} to {self.plan.dial}")
            except RigError as exc:
                log.warning("could not add PJSIP/%s to %s: %s", ext, self.plan.dial, exc)

    def start(self) -> None:
        self.phones.start()
        self._add_members()
        self._start_batch()
        log.info(
            "traffic: %d phones, a call every %.1f s into %s",
            self.plan.agents,
            self.plan.seconds_between_calls,
            self.plan.dial,
        )

    def _start_batch(self) -> None:
        rows = self._rng.sample(range(10_000_000), _CSV_ROWS)
        holds = self.plan.hold_times(self._rng)
        numbers = [f"186{row:08d}" for row in rows]
        self._calls = start_calls(
            _CSV_ROWS,
            dial=self.plan.dial,
            caller_numbers=numbers,
            hold_seconds=holds,
            rate_per_s=1.0 / self.plan.seconds_between_calls,
            work_dir=self.work_dir,
        )

    def keep_going(self) -> None:
        """Start a new batch of callers when the last one has placed all its calls."""
        if self._calls is not None and not self._calls.running:
            self._start_batch()

    def stop(self) -> None:
        if self._calls is not None:
            self._calls.stop()
        self.phones.stop()

    def stats(self) -> PhoneStats:
        return self.phones.stats()


async def run_traffic(
    stop: asyncio.Event,
    plan: TrafficPlan | None = None,
    *,
    rig: AsteriskRig | None = None,
    seed: int | None = None,
) -> PhoneStats:
    """Run demo traffic until ``stop`` is set; return what the agent phones saw."""
    traffic = Traffic(plan, rig=rig, seed=seed)
    traffic.start()
    try:
        while not stop.is_set():
            # Wake up now and then to replace a finished batch of callers.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 10.0)
            traffic.keep_going()
    finally:
        traffic.stop()
    stats = traffic.stats()
    log.info("traffic stopped: %s", stats)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m callcenter.rig.traffic")
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--dial", default="support")
    parser.add_argument("--every", type=float, default=4.0, help="seconds between calls")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    plan = TrafficPlan(agents=args.agents, dial=args.dial, seconds_between_calls=args.every)
    # Ctrl-C cancels run_traffic, whose finally block stops every SIPp.
    with contextlib.suppress(KeyboardInterrupt):
        print(asyncio.run(run_traffic(asyncio.Event(), plan)))


if __name__ == "__main__":
    main()

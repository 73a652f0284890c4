"""Record the AMI event stream of a PBX as a JSON-lines trace (the replay format).

Each line is ``{"received_at": iso, "fields": {...}}``, what ``callcenter.live.replay``
``load_trace`` reads back. The recorder rides on the project's own ``AmiLink``, so a trace
holds exactly what the service would have seen: pass the service's ``event_filters`` for
the filtered stream, or none for everything the AMI user may read.

    python -m callcenter.ami.record --out trace.jsonl [--filtered] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO

from pydantic import SecretStr

from callcenter.ami import actions
from callcenter.ami.filters import event_filters
from callcenter.ami.link import AmiLink
from callcenter.ami.protocol import Fields
from callcenter.settings import PbxSettings

log = logging.getLogger(__name__)


def trace_line(received_at: datetime, fields: Fields) -> str:
    return json.dumps(
        {"received_at": received_at.isoformat(), "fields": fields},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def frame_bytes(fields: Fields) -> int:
    """Size of the AMI frame the fields came from (``Key: value\\r\\n``... + ``\\r\\n``)."""
    return sum(len(k.encode()) + len(v.encode()) + 4 for k, v in fields.items()) + 2


class TraceRecorder:
    """An ``AmiLink`` whose events go to a trace file; ``switch()`` starts a new file."""

    def __init__(self, pbx: PbxSettings, filters: Sequence[str] = ()) -> None:
        self.link = AmiLink(pbx, self._on_event, event_filters=filters)
        self.events = 0
        self._out: IO[str] | None = None
        self._task: asyncio.Task[None] | None = None

    def _on_event(self, _pbx: str, fields: Fields, received_at: datetime) -> None:
        self.events += 1
        if self._out is not None:
            self._out.write(trace_line(received_at, fields) + "\n")

    async def start(self, timeout: float = 10.0) -> None:
        self._task = asyncio.ensure_future(self.link.run())
        async with asyncio.timeout(timeout):
            while not self.link.connected:
                await asyncio.sleep(0.05)

    def switch(self, path: Path | None, header: str = "") -> None:
        """Close the current file and write further events to ``path`` (None: drop them)."""
        if self._out is not None:
            self._out.close()
            self._out = None
        if path is not None:
            self._out = path.open("w", encoding="utf-8")
            for line in header.splitlines():
                self._out.write(f"# {line}\n")

    async def write_snapshot(self, queue: str | None = None) -> int:
        """Write QueueStatus's records (real AMI messages) so a replay starts from them."""
        records = await actions.queue_status(self.link, queue)
        now = datetime.now().astimezone()
        if self._out is not None:
            for fields in records:
                self._out.write(trace_line(now, fields) + "\n")
        return len(records)

    async def stop(self) -> None:
        self.switch(None)
        await self.link.stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _record(pbx: PbxSettings, out: Path, filtered: bool, seconds: float) -> None:
    recorder = TraceRecorder(pbx, event_filters("CC_") if filtered else ())
    await recorder.start()
    recorder.switch(out)
    try:
        await asyncio.sleep(seconds)
    finally:
        await recorder.stop()
    print(f"{recorder.events} events written to {out}")


def main(argv: Sequence[str] | None = None) -> None:
    from callcenter.rig import AMI_HOST, AMI_PORT, AMI_SECRET, AMI_USERNAME

    parser = argparse.ArgumentParser(prog="python -m callcenter.ami.record")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--filtered", action="store_true", help="install the service's own AMI event filters"
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--host", default=AMI_HOST)
    parser.add_argument("--port", type=int, default=AMI_PORT)
    parser.add_argument("--username", default=AMI_USERNAME)
    parser.add_argument("--secret", default=AMI_SECRET)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    pbx = PbxSettings(
        name="rec",
        host=args.host,
        port=args.port,
        username=args.username,
        secret=SecretStr(args.secret),
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_record(pbx, args.out, args.filtered, args.seconds))


if __name__ == "__main__":
    main()

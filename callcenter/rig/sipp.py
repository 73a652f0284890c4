"""SIPp phones for the rig: agent phones (UAS) and callers (UAC).

Every SIPp runs in its own process group with a parent-death signal, and ``stop()``
kills the group, so no SIPp outlives its owner. Scenarios live in ``tests/sipp``:

- ``uas.xml``: an agent phone that rings ``ring_seconds``, answers, talks ``talk_seconds``
  (or until Asterisk hangs up) and takes any number of calls;
- ``uas_noanswer.xml``: a phone that rings until Asterisk cancels;
- ``uac.xml``: callers, one per line of an injection CSV (caller number; hold time).

Each scenario writes one line per call outcome to its ``-log_file`` (``RINGING``,
``ANSWERED``, ``HUNGUP``, ``BYE_RECEIVED``, ``CANCELLED`` + Call-ID), which is how the
counts here are computed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from callcenter.rig.asterisk import REPO_ROOT, SIP_PORT, RigError

log = logging.getLogger(__name__)

SCENARIO_DIR = REPO_ROOT / "tests" / "sipp"
SIP_HOST = "127.0.0.1"
FIRST_AGENT_EXT = 1001
LAST_AGENT_EXT = 1010
# "Never hang up" for SIPp pauses: a day, in ms.
FOREVER_MS = 86_400_000

_PR_SET_PDEATHSIG = 1
_live: set[subprocess.Popen[bytes]] = set()


def agent_port(ext: int | str) -> int:
    """The UDP port of agent phone ``ext`` in config/asterisk/pjsip.conf (1001 -> 6001)."""
    return 6000 + int(ext) - 1000


def _sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        raise RigError("sipp not found: install it with 'apt-get install -y sip-tester'")
    return path


def _udp_port_free(port: int, host: str = SIP_HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_udp_port() -> int:
    """A UDP port the kernel considers free right now (a small race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((SIP_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def free_media_port() -> int:
    """An even port P with P and P+2 free: SIPp binds audio on P and video on P+2."""
    for _ in range(200):
        port = random.randrange(20000, 29990, 2)
        # SIPp binds the control port on all addresses, media on the media IP.
        if _udp_port_free(port) and _udp_port_free(port + 2):
            return port
    raise RigError("no free UDP port pair for SIPp media")


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL the child when the thread that started it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill_group(proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    _live.discard(proc)


def kill_all_sipp() -> None:
    """Kill every SIPp this Python process started and has not stopped yet."""
    for proc in list(_live):
        _kill_group(proc, grace=1.0)


def _read_outcomes(path: Path) -> Counter[str]:
    """Count the outcome words (first field) in a scenario's log file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return Counter()
    return Counter(line.split()[0] for line in text.splitlines() if line.strip())


class _Sipp:
    """One SIPp process: start in its own process group, stop without leftovers."""

    def __init__(self, name: str, work_dir: Path) -> None:
        self.name = name
        self.work_dir = work_dir
        self.log_file = work_dir / f"{name}.log"
        self.error_file = work_dir / f"{name}.errors"
        self.out_file = work_dir / f"{name}.out"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _start(self, args: list[str]) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            _sipp_binary(), *args,
            "-nostdin",
            "-trace_logs", "-log_file", str(self.log_file),
            "-trace_err", "-error_file", str(self.error_file),
        ]  # fmt: skip
        log.debug("starting %s: %s", self.name, " ".join(cmd))
        with open(self.out_file, "wb") as out:
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.work_dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # Only a prctl() call between fork and exec: safe enough with threads.
                preexec_fn=_die_with_parent,
            )
        _live.add(self.proc)

    def _stop(self) -> None:
        if self.proc is not None:
            _kill_group(self.proc)

    def errors(self) -> str:
        """SIPp's error file (unexpected messages, aborted calls)."""
        try:
            return self.error_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def outcomes(self) -> Counter[str]:
        return _read_outcomes(self.log_file)

    def _failure(self, reason: str) -> RigError:
        out = ""
        with contextlib.suppress(OSError):
            out = self.out_file.read_text(encoding="utf-8", errors="replace")[-2000:]
        return RigError(f"{self.name}: {reason}\n{out}\n{self.errors()[-2000:]}")


@dataclass(frozen=True)
class PhoneStats:
    """What one agent phone saw, counted from its scenario log."""

    rang: int = 0
    answered: int = 0
    hung_up: int = 0  # the phone sent BYE after talk_seconds
    bye_received: int = 0  # Asterisk hung up (caller left, call ended by the service)
    cancelled: int = 0  # ringing stopped before an answer

    def __add__(self, other: PhoneStats) -> PhoneStats:
        return PhoneStats(
            self.rang + other.rang,
            self.answered + other.answered,
            self.hung_up + other.hung_up,
            self.bye_received + other.bye_received,
            self.cancelled + other.cancelled,
        )


class AgentPhone(_Sipp):
    """A SIPp UAS standing for agent phone ``ext`` on ``127.0.0.1:port``.

    ``talk_seconds=None`` talks until Asterisk hangs up; ``answer=False`` rings until
    Asterisk cancels (``uas_noanswer.xml``).
    """

    def __init__(
        self,
        ext: str | int,
        port: int | None = None,
        ring_seconds: float = 1.0,
        talk_seconds: float | None = None,
        answer: bool = True,
        work_dir: Path | None = None,
    ) -> None:
        self.ext = str(ext)
        self.port = agent_port(ext) if port is None else port
        self.ring_seconds = ring_seconds
        self.talk_seconds = talk_seconds
        self.answer = answer
        base = work_dir or Path(tempfile.mkdtemp(prefix="callcenter-sipp-"))
        super().__init__(f"phone-{self.ext}", base)

    def _args(self) -> list[str]:
        scenario = "uas.xml" if self.answer else "uas_noanswer.xml"
        talk_ms = FOREVER_MS if self.talk_seconds is None else int(self.talk_seconds * 1000)
        args = [
            "-sf", str(SCENARIO_DIR / scenario),
            "-i", SIP_HOST, "-p", str(self.port),
            "-mi", SIP_HOST, "-mp", str(free_media_port()),
            "-cp", str(free_udp_port()),
            # Phones take calls for ever; no limit on how many at once.
            "-l", "1000",
        ]  # fmt: skip
        if self.answer:
            args += [
                "-set",
                "ring_ms",
                str(int(self.ring_seconds * 1000)),
                "-set",
                "talk_ms",
                str(talk_ms),
            ]
        return args

    def start(self, timeout: float = 5.0) -> None:
        """Start SIPp and wait until it listens on its SIP port."""
        if self.running:
            return
        if not _udp_port_free(self.port):
            raise RigError(f"UDP {SIP_HOST}:{self.port} is taken; is phone {self.ext} running?")
        self._start(self._args())
        deadline = time.monotonic() + timeout
        retried = False
        while _udp_port_free(self.port):
            if not self.running:
                failure = self._failure("SIPp exited at start")
                # Seen once in CI: the port was free when checked and taken when SIPp bound
                # it (a phone of the previous test still letting go). One more try.
                if retried or "Address already in use" not in str(failure):
                    raise failure
                log.warning(
                    "phone %s: %s:%s busy at start, trying again", self.ext, SIP_HOST, self.port
                )
                retried = True
                time.sleep(0.5)
                self._start(self._args())
            if time.monotonic() > deadline:
                self._stop()
                raise self._failure(f"SIPp did not bind {self.port} in {timeout} s")
            time.sleep(0.05)
        log.debug("phone %s listening on %s:%s", self.ext, SIP_HOST, self.port)

    def stop(self) -> None:
        self._stop()

    def stats(self) -> PhoneStats:
        """Counts so far (the log is written as calls progress)."""
        seen = self.outcomes()
        return PhoneStats(
            rang=seen["RINGING"],
            answered=seen["ANSWERED"],
            hung_up=seen["HUNGUP"],
            bye_received=seen["BYE_RECEIVED"],
            cancelled=seen["CANCELLED"],
        )

    @property
    def answered(self) -> int:
        return self.stats().answered

    def __enter__(self) -> AgentPhone:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class AgentPhones:
    """``n`` agent phones with consecutive extensions from ``first_ext``."""

    def __init__(
        self,
        n: int,
        first_ext: int = FIRST_AGENT_EXT,
        ring_seconds: float = 1.0,
        talk_seconds: float | None = None,
        answer: bool = True,
        work_dir: Path | None = None,
    ) -> None:
        if n < 1 or first_ext + n - 1 > LAST_AGENT_EXT or first_ext < FIRST_AGENT_EXT:
            raise ValueError(
                f"pjsip.conf has phones {FIRST_AGENT_EXT}..{LAST_AGENT_EXT}; "
                f"asked for {n} from {first_ext}"
            )
        base = work_dir or Path(tempfile.mkdtemp(prefix="callcenter-sipp-"))
        self.phones = [
            AgentPhone(
                ext,
                ring_seconds=ring_seconds,
                talk_seconds=talk_seconds,
                answer=answer,
                work_dir=base,
            )
            for ext in range(first_ext, first_ext + n)
        ]

    def __getitem__(self, ext: str | int) -> AgentPhone:
        for phone in self.phones:
            if phone.ext == str(ext):
                return phone
        raise KeyError(ext)

    @property
    def extensions(self) -> list[str]:
        return [phone.ext for phone in self.phones]

    def start(self) -> None:
        try:
            for phone in self.phones:
                phone.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for phone in self.phones:
            phone.stop()

    def stats(self) -> PhoneStats:
        total = PhoneStats()
        for phone in self.phones:
            total += phone.stats()
        return total

    def __enter__(self) -> AgentPhones:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class CallResult:
    """Outcome of a batch of SIPp calls into the hotline.

    ``answered`` counts calls the hotline answered (it answers before queueing), not
    calls an agent took: read that from the phones or the queue_log.
    """

    calls: int
    caller_numbers: list[str]
    returncode: int | None
    answered: int
    hung_up: int  # the caller hung up after its hold time
    bye_received: int  # Asterisk hung up first (queue timeout, agent hung up)
    elapsed: float
    log_file: Path
    errors: str = field(repr=False, default="")

    @property
    def completed(self) -> int:
        return self.hung_up + self.bye_received

    @property
    def ok(self) -> bool:
        """Every call was answered and ended cleanly (SIPp exit code 0)."""
        return self.returncode == 0 and self.completed == self.calls


_batch_ids = itertools.count(1)


class CallBatch(_Sipp):
    """A running SIPp UAC placing calls; ``wait()`` for the result or ``stop()`` it."""

    def __init__(
        self,
        n: int,
        *,
        dial: str,
        caller_numbers: Sequence[str],
        hold_seconds: Sequence[float],
        rate_per_s: float,
        work_dir: Path,
    ) -> None:
        super().__init__(f"callers-{os.getpid()}-{next(_batch_ids)}", work_dir)
        self.n = n
        self.dial = dial
        self.caller_numbers = list(caller_numbers)
        self.hold_seconds = list(hold_seconds)
        self.rate_per_s = rate_per_s
        self.csv_file = work_dir / f"{self.name}.csv"
        self._started = 0.0

    def _write_csv(self) -> None:
        lines = ["SEQUENTIAL"]
        for number, hold in zip(self.caller_numbers, self.hold_seconds, strict=True):
            lines.append(f"{number};{int(hold * 1000)};")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.csv_file.write_text("\n".join(lines) + "\n")

    def _rate_args(self) -> list[str]:
        # SIPp's rate is an integer count per period: express r calls/s as 1 per 1/r s.
        if self.rate_per_s >= 1:
            return ["-r", str(round(self.rate_per_s)), "-rp", "1000"]
        return ["-r", "1", "-rp", str(round(1000 / self.rate_per_s))]

    def start(self) -> None:
        self._write_csv()
        args = [
            f"{SIP_HOST}:{SIP_PORT}",
            "-sf", str(SCENARIO_DIR / "uac.xml"),
            "-s", self.dial,
            "-inf", str(self.csv_file),
            "-i", SIP_HOST, "-p", str(free_udp_port()),
            "-mi", SIP_HOST, "-mp", str(free_media_port()),
            "-cp", str(free_udp_port()),
            "-m", str(self.n),
            "-l", str(max(self.n, 1)),
            *self._rate_args(),
        ]  # fmt: skip
        self._started = time.monotonic()
        self._start(args)

    def result(self) -> CallResult:
        seen = self.outcomes()
        code = None if self.proc is None else self.proc.poll()
        return CallResult(
            calls=self.n,
            caller_numbers=self.caller_numbers,
            returncode=code,
            answered=seen["ANSWERED"],
            hung_up=seen["HUNGUP"],
            bye_received=seen["BYE_RECEIVED"],
            elapsed=time.monotonic() - self._started,
            log_file=self.log_file,
            errors=self.errors(),
        )

    def wait(self, timeout: float) -> CallResult:
        """Wait for all calls to end; on timeout kill SIPp and return what happened."""
        assert self.proc is not None, "start() first"
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s still running after %.0f s; killing it", self.name, timeout)
        self.stop()
        return self.result()

    async def wait_async(self, max_seconds: float) -> CallResult:
        """Like wait(), without blocking the event loop (the wait runs in a thread)."""
        return await asyncio.to_thread(self.wait, max_seconds)

    def stop(self) -> None:
        """Kill SIPp (calls in progress just stop; Asterisk times them out)."""
        self._stop()


def _as_list(value: float | Sequence[float], n: int) -> list[float]:
    if isinstance(value, int | float):
        return [float(value)] * n
    values = [float(v) for v in value]
    if len(values) != n:
        raise ValueError(f"{len(values)} hold times for {n} calls")
    return values


def default_caller_numbers(n: int) -> list[str]:
    """Distinct 11-digit mobile-style numbers: 139 + pid + batch + index.

    Unique for up to 1000 calls per batch and 100 batches per process, so a test can
    find its own calls in the queue_log by caller number.
    """
    batch = next(_batch_ids) % 100
    pid = os.getpid() % 1000
    return [f"139{pid:03d}{batch:02d}{i % 1000:03d}" for i in range(n)]


def start_calls(
    n: int,
    *,
    dial: str = "support",
    caller_numbers: Sequence[str] | None = None,
    rate_per_s: float = 1.0,
    hold_seconds: float | Sequence[float] = 10.0,
    work_dir: Path | None = None,
) -> CallBatch:
    """Start ``n`` SIPp calls to the hotline (``dial`` picks the queue) and return at once.

    ``hold_seconds`` is how long each caller stays after the hotline answers (queue wait
    plus talk), one value for all or one per call.
    """
    numbers = list(caller_numbers) if caller_numbers is not None else default_caller_numbers(n)
    if len(numbers) != n:
        raise ValueError(f"{len(numbers)} caller numbers for {n} calls")
    if rate_per_s <= 0:
        raise ValueError("rate_per_s must be positive")
    batch = CallBatch(
        n,
        dial=dial,
        caller_numbers=numbers,
        hold_seconds=_as_list(hold_seconds, n),
        rate_per_s=rate_per_s,
        work_dir=work_dir or Path(tempfile.mkdtemp(prefix="callcenter-sipp-")),
    )
    batch.start()
    return batch


def place_calls(
    n: int,
    *,
    dial: str = "support",
    caller_numbers: Sequence[str] | None = None,
    rate_per_s: float = 1.0,
    hold_seconds: float | Sequence[float] = 10.0,
    timeout: float,
    work_dir: Path | None = None,
) -> CallResult:
    """Place ``n`` calls and wait until they all ended (or ``timeout`` seconds)."""
    batch = start_calls(
        n,
        dial=dial,
        caller_numbers=caller_numbers,
        rate_per_s=rate_per_s,
        hold_seconds=hold_seconds,
        work_dir=work_dir,
    )
    return batch.wait(timeout)

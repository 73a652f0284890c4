"""A real Asterisk 22 for tests and demos, run from a cached Debian sid root file system.

Debian 12 has no Asterisk package, so the rig builds a minimal Debian ``sid`` root file
system once with ``debootstrap`` (cached under ``~/.cache/callcenter``) and runs
``/usr/sbin/asterisk`` from it inside a ``bubblewrap`` sandbox. The network is shared, so
AMI (127.0.0.1:5038) and PJSIP (127.0.0.1:5060) are reachable from the host.

The root file system is mounted read-only. Each rig gets a run directory holding a copy
of the project's ``config/asterisk`` (editable by tests, then ``rx("... reload")``) and
fresh, writable folders for Asterisk's log, spool, lib (astdb), run and cache folders.
The project's ``dialplan/`` folder is bound live at ``/etc/asterisk/dialplan``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

from callcenter.rig.prompts import SOUNDS_MOUNT, PromptBuildError, ensure_prompts

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / "config" / "asterisk"
DIALPLAN_DIR = REPO_ROOT / "dialplan"

AMI_HOST = "127.0.0.1"
AMI_PORT = 5038
SIP_PORT = 5060
AMI_USERNAME = "callcenter"
AMI_SECRET = "rig-secret-not-for-production"

ROOTFS_NAME = "rootfs-sid"
DEBOOTSTRAP_SUITE = "sid"
DEBOOTSTRAP_PACKAGES = (
    "asterisk",
    "asterisk-modules",
    "asterisk-config",
    "asterisk-core-sounds-en-wav",
    "asterisk-moh-opsound-wav",
)
ASTERISK_BIN = "/usr/sbin/asterisk"
# Files a complete root file system has; one missing (a cache built before a package was
# added to the list) means a rebuild.
REQUIRED_FILES = (
    ASTERISK_BIN,
    "/usr/lib/x86_64-linux-gnu/asterisk/modules/app_voicemail.so",
)

# Writable folders inside the sandbox -> name of the per-run folder bound there.
_WRITABLE_DIRS = {
    "/var/log/asterisk": "log",
    "/var/spool/asterisk": "spool",
    "/var/lib/asterisk": "lib",
    "/run/asterisk": "run",
    "/var/cache/asterisk": "cache",
}


class RigError(RuntimeError):
    """The rig could not be built, started or driven; the message says why."""


def default_cache_dir() -> Path:
    """``$CALLCENTER_RIG_CACHE`` or ``~/.cache/callcenter``."""
    env = os.environ.get("CALLCENTER_RIG_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "callcenter"


def _require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RigError(f"{name} not found: install it with 'apt-get install -y {package}'")
    return path


def ensure_rootfs(cache_dir: Path | None = None) -> Path:
    """Return the cached Asterisk root file system, building it first if it is missing.

    The build goes into ``<name>.partial`` and is renamed only when debootstrap succeeded,
    so an interrupted build is never mistaken for a complete one.
    """
    _require_tool("bwrap", "bubblewrap")
    cache = cache_dir or default_cache_dir()
    rootfs = cache / ROOTFS_NAME
    if _rootfs_complete(rootfs):
        return rootfs
    debootstrap = _require_tool("debootstrap", "debootstrap")
    if os.geteuid() != 0:
        raise RigError("building the Asterisk root file system needs root (debootstrap)")
    cache.mkdir(parents=True, exist_ok=True)
    with cache_lock(cache):
        # Another process may have built it while this one waited for the lock.
        if _rootfs_complete(rootfs):
            return rootfs
        return _build_rootfs(debootstrap, cache, rootfs)


def _rootfs_complete(rootfs: Path) -> bool:
    return all((rootfs / path.lstrip("/")).exists() for path in REQUIRED_FILES)


@contextlib.contextmanager
def cache_lock(cache: Path) -> Iterator[None]:
    """Hold ``<cache>/build.lock`` while building into the cache (other processes wait).

    Setup's ``rig build``, test sessions and ``rig start`` may all find the root file
    system missing at once. Without the lock the second one removed the first one's
    ``.partial`` in the middle of its debootstrap, and both failed ("Tried to extract
    package, but file already exists", or base-passwd's postinst "cp: cannot create
    regular file '/etc/passwd'"), leaving a ``.partial`` holding only ``var/`` and
    ``debootstrap/``. flock is released when its holder dies, so no stale lock remains.
    """
    with open(cache / "build.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process building into %s", cache)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_rootfs(debootstrap: str, cache: Path, rootfs: Path) -> Path:
    partial = cache / f"{ROOTFS_NAME}.partial"
    if partial.exists():
        log.info("removing an unfinished root file system build at %s", partial)
        shutil.rmtree(partial)
    cmd = [
        debootstrap,
        "--variant=minbase",
        f"--include={','.join(DEBOOTSTRAP_PACKAGES)}",
        DEBOOTSTRAP_SUITE,
        str(partial),
    ]
    log.info("building the Asterisk root file system (about a minute): %s", " ".join(cmd))
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise RigError(f"debootstrap failed with exit code {proc.returncode}:\n{tail}")
    if rootfs.exists():
        log.info("replacing the older root file system at %s", rootfs)
        shutil.rmtree(rootfs)
    partial.rename(rootfs)
    log.info("root file system ready at %s in %.0f s", rootfs, time.monotonic() - started)
    return rootfs


def _port_answers(port: int, host: str = AMI_HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def read_ami_banner(host: str = AMI_HOST, port: int = AMI_PORT, timeout: float = 2.0) -> str:
    """Connect to the AMI and return its first line (``Asterisk Call Manager/x.y.z``)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        data = b""
        while b"\n" not in data:
            chunk = sock.recv(256)
            if not chunk:
                break
            data += chunk
    return data.decode("utf-8", "replace").strip()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"({path} not readable)"
    return "\n".join(text.splitlines()[-lines:])


class AsteriskRig:
    """One Asterisk process in a bubblewrap sandbox, listening on 127.0.0.1 only.

    Only one rig can run at a time on a machine: the ports (5038, 5060) are fixed in
    ``config/asterisk``. Start it from the main thread or a thread that outlives it:
    ``--die-with-parent`` kills Asterisk when the *thread* that started it ends.
    """

    def __init__(
        self,
        run_dir: Path | None = None,
        *,
        rootfs: Path | None = None,
        config_dir: Path = CONFIG_DIR,
        dialplan_dir: Path = DIALPLAN_DIR,
        verbose: int = 3,
    ) -> None:
        self._own_run_dir = run_dir is None
        self.run_dir = run_dir or Path(tempfile.mkdtemp(prefix="callcenter-rig-"))
        self._rootfs = rootfs
        self._config_dir = config_dir
        self._dialplan_dir = dialplan_dir
        self._verbose = verbose
        self._proc: subprocess.Popen[bytes] | None = None
        self._prompts_dir: Path | None = None

    # --- paths -----------------------------------------------------------------

    @property
    def rootfs(self) -> Path:
        if self._rootfs is None:
            self._rootfs = ensure_rootfs()
        return self._rootfs

    @property
    def etc_dir(self) -> Path:
        """Host path of this rig's copy of ``/etc/asterisk`` (edit, then reload)."""
        return self.run_dir / "etc"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "log"

    @property
    def queue_log_path(self) -> Path:
        """Host path of the ``queue_log`` Asterisk writes."""
        return self.log_dir / "queue_log"

    @property
    def messages_log_path(self) -> Path:
        return self.log_dir / "messages"

    @property
    def console_log_path(self) -> Path:
        """Asterisk's stdout/stderr (start-up errors before the logger is up)."""
        return self.run_dir / "asterisk.out"

    @property
    def pid(self) -> int | None:
        """Process id of the bwrap process that runs Asterisk, while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # --- sandbox ---------------------------------------------------------------

    def _prepare_run_dir(self) -> None:
        """Copy the config (once per run dir) and create the writable folders.

        The copy survives restart(), so a test may edit ``etc_dir`` and restart or reload;
        reset_config() takes a fresh copy of the project's config.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not self.etc_dir.exists():
            self.reset_config()
        # Mount point for the live dialplan bind (the copy is bound read-only).
        (self.etc_dir / "dialplan").mkdir(exist_ok=True)
        for name in _WRITABLE_DIRS.values():
            (self.run_dir / name).mkdir(exist_ok=True)
        # The hotline's own prompts (built once per text version, cached beside the rootfs).
        try:
            with cache_lock(self.rootfs.parent):
                self._prompts_dir = ensure_prompts(self.rootfs.parent)
        except PromptBuildError as exc:
            raise RigError(str(exc)) from exc
        (self.run_dir / "lib" / Path(SOUNDS_MOUNT).relative_to("/var/lib/asterisk")).mkdir(
            parents=True, exist_ok=True
        )
        # An empty resolv.conf: the rig needs no DNS (everything is 127.0.0.1).
        (self.run_dir / "resolv.conf").write_text("")
        self._check_readable(self.etc_dir)
        self._check_readable(self._dialplan_dir)

    def reset_config(self) -> None:
        """Replace ``etc_dir`` by a fresh copy of the project's config (rig stopped)."""
        if not (self._config_dir / "asterisk.conf").is_file():
            raise RigError(f"no asterisk.conf in {self._config_dir}")
        if self.running:
            # The running sandbox binds the old folder; a new one would be invisible.
            raise RigError("reset_config() needs the rig stopped")
        if self.etc_dir.exists():
            shutil.rmtree(self.etc_dir)
        shutil.copytree(self._config_dir, self.etc_dir)

    @staticmethod
    def _check_readable(folder: Path) -> None:
        for path in folder.rglob("*"):
            if path.is_file() and not os.access(path, os.R_OK):
                raise RigError(f"{path} is not readable; Asterisk could not load it")

    def bwrap_args(self) -> list[str]:
        """The bubblewrap command prefix that recreates this rig's sandbox."""
        args = [
            "bwrap",
            "--ro-bind", str(self.rootfs), "/",
            "--dev", "/dev",
            "--proc", "/proc",
            "--tmpfs", "/tmp",
            "--tmpfs", "/run",
            "--ro-bind", str(self.run_dir / "resolv.conf"), "/etc/resolv.conf",
            "--ro-bind", str(self.etc_dir), "/etc/asterisk",
            "--ro-bind", str(self._dialplan_dir), "/etc/asterisk/dialplan",
        ]  # fmt: skip
        for inside, name in _WRITABLE_DIRS.items():
            args += ["--bind", str(self.run_dir / name), inside]
        if self._prompts_dir is not None:
            args += ["--ro-bind", str(self._prompts_dir), SOUNDS_MOUNT]
        # Asterisk dies with the process (thread) that started bwrap: no orphans.
        args.append("--die-with-parent")
        return args

    # --- lifecycle -------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        """Start Asterisk and wait until the AMI answers and it is fully booted."""
        if self.running:
            return
        if _port_answers(AMI_PORT):
            raise RigError(
                f"something already listens on {AMI_HOST}:{AMI_PORT} (another Asterisk?); "
                "stop it first: the rig's ports are fixed"
            )
        self._prepare_run_dir()
        cmd = [*self.bwrap_args(), ASTERISK_BIN, "-f", "-n", "-" + "v" * self._verbose]
        log.info("starting Asterisk in %s", self.run_dir)
        started = time.monotonic()
        with open(self.console_log_path, "ab") as out:
            # A new session gives a process group to kill as a whole in stop().
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready(started + timeout)
        except BaseException:
            self.stop()
            raise
        log.info(
            "Asterisk ready in %.1f s (AMI %s:%s)", time.monotonic() - started, AMI_HOST, AMI_PORT
        )

    def _wait_ready(self, deadline: float) -> None:
        banner = self._wait_for_ami(deadline)
        if not banner.startswith("Asterisk Call Manager"):
            raise self._failure(f"unexpected AMI banner {banner!r}")
        remaining = max(1.0, deadline - time.monotonic())
        out = self.rx("core waitfullybooted", timeout=remaining)
        if "fully booted" not in out:
            raise self._failure(f"'core waitfullybooted' answered {out!r}")

    def _wait_for_ami(self, deadline: float) -> str:
        while True:
            if not self.running:
                raise self._failure("Asterisk exited during start-up")
            if _port_answers(AMI_PORT):
                with contextlib.suppress(OSError):
                    return read_ami_banner()
            if time.monotonic() > deadline:
                raise self._failure("AMI did not answer in time")
            time.sleep(0.1)

    def _failure(self, reason: str) -> RigError:
        code = None if self._proc is None else self._proc.poll()
        return RigError(
            f"Asterisk rig failed: {reason} (exit code {code}).\n"
            f"--- {self.console_log_path} ---\n{_tail(self.console_log_path)}\n"
            f"--- {self.messages_log_path} ---\n{_tail(self.messages_log_path)}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Asterisk: ``core stop now``, then SIGTERM, then SIGKILL. Leaves no process."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(RigError, subprocess.TimeoutExpired, OSError):
                self.rx("core stop now", timeout=5.0)
            self._wait_or_signal(proc, timeout)
        # Reap anything else left in the group (there should be nothing).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        self._proc = None
        log.info("Asterisk stopped")

    @staticmethod
    def _wait_or_signal(proc: subprocess.Popen[bytes], timeout: float) -> None:
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=timeout if sig is None else 5.0)
                return
            except subprocess.TimeoutExpired:
                continue

    def restart(self, timeout: float = 30.0) -> None:
        """Stop and start again, keeping logs and astdb (a PBX restart)."""
        self.stop()
        self.start(timeout=timeout)

    def cleanup(self) -> None:
        """Stop, and delete the run directory if the rig created it."""
        self.stop()
        if self._own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> AsteriskRig:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- CLI -------------------------------------------------------------------

    def rx(self, command: str, timeout: float = 15.0) -> str:
        """Run an Asterisk CLI command against the running rig and return its output."""
        cmd = [*self.bwrap_args(), ASTERISK_BIN, "-rx", command]
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise RigError(f"asterisk -rx {command!r} timed out after {timeout} s") from exc
        if proc.returncode != 0 or "Unable to connect to remote asterisk" in proc.stdout:
            raise RigError(
                f"asterisk -rx {command!r} failed ({proc.returncode}): "
                f"{(proc.stdout + proc.stderr).strip()}"
            )
        return proc.stdout

    def queue_log_lines(self) -> list[list[str]]:
        """The queue_log split into fields (``epoch|callid|queue|agent|event|data...``)."""
        try:
            text = self.queue_log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return [line.split("|") for line in text.splitlines() if line]


# --- command line ----------------------------------------------------------------


def _pidfile(run_dir: Path) -> Path:
    return run_dir / "rig.pid"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m callcenter.rig build|start|stop|rx CMD``.

    ``start`` runs in the foreground until Ctrl-C or ``stop`` (Asterisk dies with it).
    """
    parser = argparse.ArgumentParser(prog="python -m callcenter.rig")
    parser.add_argument("action", choices=["build", "start", "stop", "rx"])
    parser.add_argument("command", nargs="?", default="core show uptime")
    parser.add_argument("--run-dir", type=Path, default=default_cache_dir() / "run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.action == "build":
        print(ensure_rootfs())
        return 0
    if args.action == "stop":
        return _stop_foreground_rig(args.run_dir)
    rig = AsteriskRig(args.run_dir)
    if args.action == "rx":
        print(rig.rx(args.command), end="")
        return 0
    # A stale config copy from an earlier run would hide edits of config/asterisk.
    rig.reset_config()
    rig.start()
    _pidfile(rig.run_dir).write_text(str(os.getpid()))
    print(
        f"Asterisk running; AMI {AMI_HOST}:{AMI_PORT} user {AMI_USERNAME}; "
        f"queue_log {rig.queue_log_path}. Ctrl-C stops it.",
        flush=True,
    )
    try:
        while rig.running:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        rig.stop()
        _pidfile(rig.run_dir).unlink(missing_ok=True)
    return 0


def _stop_foreground_rig(run_dir: Path) -> int:
    try:
        pid = int(_pidfile(run_dir).read_text())
    except (OSError, ValueError):
        print("no rig started with 'start' is running", file=sys.stderr)
        return 1
    # SIGINT: the 'start' process stops Asterisk cleanly in its finally block.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    return 0

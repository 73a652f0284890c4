"""The hotline's own prompts for the rig, built from ``prompts/`` and cached by content.

``prompts/<lang>/<name>.txt`` are spoken by espeak-ng and converted by sox (the same
``prompts/build.sh`` the Docker image runs), into ``<cache>/prompts-<hash>/<lang>/<name>.wav``.
The hash covers the texts and the script, so an edited prompt gets rebuilt and no audio is
ever committed. The rig binds the folder at ``SOUNDS_MOUNT`` inside the sandbox.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
BUILD_SCRIPT = "build.sh"
# Where the dialplan finds them (${IVR_SOUNDS}), in the rig and in the Docker image.
SOUNDS_MOUNT = "/var/lib/asterisk/sounds/callcenter"


class PromptBuildError(RuntimeError):
    pass


def prompts_hash(source: Path = PROMPTS_DIR) -> str:
    digest = hashlib.sha256()
    files = sorted([*source.glob("*/*.txt"), source / BUILD_SCRIPT])
    for path in files:
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def ensure_prompts(cache_dir: Path, source: Path = PROMPTS_DIR) -> Path:
    """The built prompts for the current texts, building them first if needed."""
    target = cache_dir / f"prompts-{prompts_hash(source)}"
    if target.is_dir():
        return target
    for tool, package in (("espeak-ng", "espeak-ng"), ("sox", "sox")):
        if shutil.which(tool) is None:
            raise PromptBuildError(
                f"{tool} not found: install it with 'apt-get install -y {package}'"
            )
    partial = cache_dir / f"{target.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    proc = subprocess.run(
        ["sh", str(source / BUILD_SCRIPT), str(source), str(partial)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if proc.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise PromptBuildError(
            f"building prompts failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-2000:]}"
        )
    partial.rename(target)
    log.info("built %d prompts into %s", len(list(target.glob("*/*.wav"))), target)
    return target

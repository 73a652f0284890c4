"""Files the service puts on a PBX (include files, announcements): written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` in one rename (a temporary file in the same folder, synced
    first): Asterisk reads the old file or the new one, never half of one. Mode 0644, so the
    PBX's own user can read it."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

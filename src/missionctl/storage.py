"""Attachment bytes on disk, content-addressed by SHA-256 under `<data_dir>/attachments/`.

Written with temp file + rename before the row commits: a crash leaves at worst an unreferenced
file, never a row pointing at missing bytes. Same bytes, same file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class AttachmentStore:
    """Stores and finds attachment bytes by their SHA-256."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        """Where the bytes with this digest live."""
        return self.root / sha256[:2] / sha256

    def put(self, content: bytes) -> str:
        """Store `content` (idempotently) and return its SHA-256 hex digest."""
        digest = hashlib.sha256(content).hexdigest()
        target = self.path_for(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return digest

"""The vendored marketplace as one ZIP, for organisations that upload it to Claude.ai by hand.

Claude.ai takes at most 50 MB and 100 plugins per uploaded marketplace; a target over either
limit is reported, with the figures, rather than handed out to fail at upload. The archive is
deterministic (sorted names, fixed dates and modes), like the `.skill` packages.
"""
import io
import zipfile
from pathlib import Path

from marketplace.packaging import COMPRESS_LEVEL, ZIP_EPOCH

MAX_BYTES = 50 * 1024 * 1024
MAX_PLUGINS = 100


def zip_folder(folder: Path) -> bytes:
    """Every file below `folder`, at the archive's root."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix, so the permission bits below are honoured
            info.external_attr = (0o100755 if path.stat().st_mode & 0o100 else 0o100644) << 16
            archive.writestr(info, path.read_bytes(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def over_limits(size: int, plugins: int) -> list[str]:
    """Why Claude.ai would refuse an upload of `size` bytes holding `plugins` plugins; empty if it would not."""
    found = []
    if size > MAX_BYTES:
        found.append(f"the ZIP is {size / 1024 / 1024:.1f} MB, over Claude.ai's {MAX_BYTES // 1024 // 1024} MB limit")
    if plugins > MAX_PLUGINS:
        found.append(f"it holds {plugins} plugins, over Claude.ai's limit of {MAX_PLUGINS} per marketplace")
    return found

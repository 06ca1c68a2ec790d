"""The vendored marketplace as one ZIP, for organisations that upload it to Claude.ai by hand.

Claude.ai takes at most 50 MB and 100 plugins per uploaded marketplace; a target over either
limit is reported, with the figures, rather than handed out to fail at upload. The archive is
deterministic (sorted names, fixed dates and modes), like the `.skill` packages.
"""
import io
import zipfile

from marketplace.packaging import COMPRESS_LEVEL, ZIP_EPOCH

MAX_BYTES = 50 * 1024 * 1024
MAX_PLUGINS = 100


def zip_files(files: dict) -> bytes:
    """`files` ({path: (executable, content)}, a build's) as one archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, (executable, content) in sorted(files.items()):
            info = zipfile.ZipInfo(path, date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix, so the permission bits below are honoured
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            archive.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def over_limits(size: int, plugins: int) -> list[str]:
    """Why Claude.ai would refuse an upload of `size` bytes holding `plugins` plugins; empty if it would not."""
    found = []
    if size > MAX_BYTES:
        found.append(f"the ZIP is {size / 1024 / 1024:.1f} MB, over Claude.ai's {MAX_BYTES // 1024 // 1024} MB limit")
    if plugins > MAX_PLUGINS:
        found.append(f"it holds {plugins} plugins, over Claude.ai's limit of {MAX_PLUGINS} per marketplace")
    return found

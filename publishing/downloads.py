"""The latest ZIP a target built, for the admin's and the API's downloads.

Only the file its newest run recorded is served, by that exact name, from the target's own folder
(runs.zip_path): nothing the request says becomes part of a path.
"""
import re
from pathlib import Path

from django.conf import settings
from django.http import FileResponse

# What runs.zip_path names a ZIP: "<marketplace name>-<16 hex digits>.zip".
ARTIFACT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*-[0-9a-f]{16}\.zip$")


def latest_zip(target) -> Path | None:
    """The newest ZIP built for `target` that is still on disk, or None."""
    run = target.runs.exclude(artifact="").order_by("-started_at", "-pk").first()
    if run is None or not ARTIFACT.match(run.artifact):
        return None
    published = (Path(settings.SKILLPORT_DATA_DIR) / "published").resolve()
    path = (published / target.name / run.artifact).resolve()
    if path.parent.parent != published or not path.is_file():
        return None
    return path


def zip_response(target) -> FileResponse | None:
    path = latest_zip(target)
    if path is None:
        return None
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name, content_type="application/zip")

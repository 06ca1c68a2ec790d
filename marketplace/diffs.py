"""Per-file unified diffs between two revisions of a skill: its history page and the admin's review read them."""
import difflib

from .models import Blob


def between(old, new) -> list[dict]:
    """Each file that differs, as {path, binary, lines: [(kind, line)]}; content comes from the shared
    blob store. `old` None: a skill never approved, every file of `new` added."""
    old_files = {f["path"]: f["sha"] for f in old.files} if old is not None else {}
    new_files = {f["path"]: f["sha"] for f in new.files}
    changed = sorted(p for p in old_files.keys() | new_files.keys() if old_files.get(p) != new_files.get(p))
    shas = {old_files.get(p) for p in changed} | {new_files.get(p) for p in changed}
    blobs = {b.sha: b for b in Blob.objects.filter(sha__in=[s for s in shas if s])}
    result = []
    for path in changed:
        before, after = blobs.get(old_files.get(path)), blobs.get(new_files.get(path))
        if (before and before.is_binary) or (after and after.is_binary):
            result.append({"path": path, "binary": True, "lines": []})
            continue
        a = bytes(before.content).decode("utf-8", "replace").splitlines() if before else []
        b = bytes(after.content).decode("utf-8", "replace").splitlines() if after else []
        lines = list(difflib.unified_diff(a, b, f"a/{path}", f"b/{path}", lineterm="", n=3))
        result.append({"path": path, "binary": False, "lines": [(line[:1], line) for line in lines]})
    return result

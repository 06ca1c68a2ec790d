"""Validate a marketplace folder or repository offline, with the sync's own problem codes.

Offline means offline: plugins whose source is another git repository are listed as not
checked unless `--fetch` asks for them to be cloned.
"""
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand

from marketplace.problems import ERROR, CatalogError, describe, in_order
from marketplace.reader import Reader
from marketplace.snapshot import DEFAULT_CATALOG_PATH


class Command(BaseCommand):
    help = "Validate a marketplace without touching the database. Exits 1 when there are errors."

    def add_arguments(self, parser):
        parser.add_argument("path", help="A marketplace folder, a local repository, or a git URL")
        parser.add_argument("--ref", default="")
        parser.add_argument("--catalog-path", default=DEFAULT_CATALOG_PATH)
        parser.add_argument("--json", action="store_true", dest="as_json")
        parser.add_argument("--fetch", action="store_true",
                            help="Also clone the git repositories that plugin sources name, and check those plugins")

    def handle(self, path, ref, catalog_path, as_json, fetch, **options):
        location = str(Path(path).expanduser().resolve()) if Path(path).expanduser().exists() else path
        reader = Reader(location, ref=ref, catalog_path=catalog_path, fetch_sources=fetch)
        try:
            snapshot = reader.read()
            problems = in_order([p.as_dict() for p in snapshot.problems])
            counts = {
                "plugins": len(snapshot.plugins),
                "skills": sum(len(p.skills) for p in snapshot.plugins),
                "files": sum(len(s.files) for p in snapshot.plugins for s in p.skills),
                "unreachable_skill_files": snapshot.unreachable_skill_files,
            }
            commit = snapshot.commit
        except CatalogError as exc:
            problems, counts, commit = [exc.problem.as_dict()], {}, reader.commit
        finally:
            reader.close()
        has_errors = any(p["severity"] == ERROR for p in problems)
        result = {
            "status": "failed" if has_errors else "ok",
            "commit": commit,
            "counts": counts,
            "problems": problems,
        }
        if as_json:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            for p in problems:
                self.stdout.write(describe(p))
            summary = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
            style = self.style.ERROR if has_errors else self.style.SUCCESS
            self.stdout.write(style(f"{'Invalid' if has_errors else 'Valid'}: {summary or 'catalogue unreadable'}"))
        if has_errors:
            sys.exit(1)

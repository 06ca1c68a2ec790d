"""What each written-out query in marketplace.rows costs per call next to the ORM query it replaced.

Prints one JSON object to stdout (progress on stderr). In-process, so gunicorn, HTTP and the other
queries of a page stay out of it; the ORM and written-out versions take turns, round by round, so a
busy moment of a shared machine falls on both.
"""
import argparse
import json
import random
import time

from common import log, throwaway_database


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400, help="calls per round and version (default 400)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    args = parser.parse_args()
    with throwaway_database("rows_bench"):
        print(json.dumps(measure(args.calls, args.rounds), indent=2))


def measure(calls, rounds):
    import web
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends import db
    from oauth2_provider.models import get_access_token_model

    from connector.tokens import checksum, mint
    from marketplace import rows
    from marketplace.models import CatalogueVersion, Skill
    from skillport_site import sessions

    log("loading 2,000 skills")
    paths = [tuple(identifier.split("/")) for identifier in random.Random(1).sample(web.load_catalogue(100, 20), 200)]
    session_key = web.sign_in()
    user = get_user_model().objects.get(username="bench-member")
    token_checksum = checksum(mint(user))
    turn = iter(range(10**9))

    def next_path():
        return paths[next(turn) % len(paths)]

    def orm_token():
        token = get_access_token_model().objects.select_related("application", "user__github").get(
            token_checksum=token_checksum)
        return token.user.github, CatalogueVersion.current()  # the version was a round trip of its own

    def orm_skill():
        marketplace, plugin, skill = next_path()
        return Skill.objects.visible_to(user).select_related("plugin", "marketplace").defer(
            "marketplace__access_token", "marketplace__webhook_secret").get(
            marketplace__slug=marketplace, plugin__name=plugin, slug=skill)

    # name: (the ORM version, the written-out version)
    pairs = {
        "session": (lambda: db.SessionStore(session_key)._get_session_from_db(),
                    lambda: sessions.SessionStore(session_key)._get_session_from_db()),
        "user": (lambda: get_user_model().objects.select_related("github").get(pk=user.pk).github,
                 lambda: rows.user_with_identity(user.pk).github),
        "token": (orm_token, lambda: rows.token(token_checksum).user.github),
        "skill": (orm_skill, lambda: rows.visible_skill(user, *next_path())),
    }
    for orm, written in pairs.values():
        for _ in range(50):  # prepared statements, the compiled skill query
            assert orm() is not None and written() is not None
    samples = {name: {"orm": [], "written": []} for name in pairs}
    for round_number in range(rounds):
        for name, (orm, written) in pairs.items():
            versions = [("orm", orm), ("written", written)]
            for version, call in versions if round_number % 2 == 0 else reversed(versions):
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(calls):
                    call()
                samples[name][version].append(
                    ((time.perf_counter() - wall) / calls * 1e6, (time.process_time() - cpu) / calls * 1e6))
        log(f"round {round_number + 1} of {rounds}")
    return {name: summary(versions) for name, versions in samples.items()}


def summary(versions):
    """Median microseconds per call (wall clock, and this process's CPU) of each version, and each
    round's ORM time over the written-out time, sorted."""
    def median(values):
        return round(sorted(values)[len(values) // 2])

    result = {version: {"wall_us": median([wall for wall, _ in runs]), "cpu_us": median([cpu for _, cpu in runs])}
              for version, runs in versions.items()}
    result["orm_over_written"] = sorted(
        round(orm[0] / written[0], 2) for orm, written in zip(versions["orm"], versions["written"]))
    return result


if __name__ == "__main__":
    main()

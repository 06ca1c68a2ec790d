"""The plugins a plugin needs from its own marketplace, and which plugins of a set have what they need.

Claude Code (2.1.332) installs a plugin's `dependencies` from its marketplace along with it ("+ 1 dependency:
b"), and will not load the plugin where one is missing: not listed, refused at install, or not loaded itself for
want of one of its own ("Dependency "g@acme" is disabled"), or of a version its plugin.json does not allow
("Requires "b@acme" ^2.0.0, installed 1.5.0"). A dependency that installs but fails to load for another reason
(a path not found, say) does not stop it. A plugin whose dependencies lead round in a circle, or that asks for a
version in words that are no range, it will not install at all ("Dependency cycle: u@acme → p@acme → q@acme →
p@acme"). The reader judges a marketplace by these rules, and every set Skillport serves (a member's curated
catalogue, a publish target) is closed under them: a plugin whose dependency is left out is left out too, saying
why, rather than handed out to install and never load.

A dependency on another marketplace's plugin ("name@other") is installed only where the member has added that
marketplace and the plugin's own catalogue allows it (allowCrossMarketplaceDependenciesOn). Skillport cannot see
members' machines: it judges dependencies within one marketplace, and within the marketplaces a publish target
copies together.
"""
import re
from collections import deque

import nodesemver

from . import claudefields

# npm's `semver.coerce`: the first run of up to three dot-separated numbers in a version that is not one.
COERCE = re.compile(r"(?:^|\D)(\d{1,16})(?:\.(\d{1,16}))?(?:\.(\d{1,16}))?(?:$|\D)")

# The steps of a dependency cycle's path a message names: a hostile catalogue's chain of thousands into a cycle
# would otherwise cost a walk of thousands for each of its plugins.
SHOWN = 12


def declared(entry: dict, manifest: dict | None, key="dependencies") -> list[str]:
    """The plugins a plugin's entry and plugin.json require (or, `key` "optionalDependencies", can use), as
    written ("name" or "name@marketplace"), once each."""
    return list(dict.fromkeys(claudefields.dependency_names(entry.get(key))
                              + claudefields.dependency_names((manifest or {}).get(key))))


def own(entry: dict, manifest: dict | None, marketplace: str) -> list[tuple[str, str]]:
    """[(as written, plugin name)] for each plugin of its own marketplace (named `marketplace` in its
    marketplace.json) that a plugin's entry or plugin.json requires, in the order written."""
    found = []
    for written in declared(entry, manifest):
        name, _, market = written.partition("@")
        if market in ("", marketplace):
            found.append((written, name))
    return found


def wanting(plugins, together=None, renamed=()) -> dict:
    """{id: the dependency as written} for each of `plugins`, given as (id, marketplace id, name, entry,
    plugin.json, marketplace's name), that depends on a plugin of its marketplace not among them. `together` maps
    the names of other marketplaces whose plugins are served in the same catalogue (a publish target's) to their
    ids: a dependency naming one of them must be among `plugins` too. `renamed` holds the ids of marketplaces
    served under another name than their own (`served_entry`): a plugin.json there naming its own marketplace
    ("base@<its name>") names one Claude Code does not find, and the plugin does not load."""
    together = together or {}
    ids = {(market, name): pk for pk, market, name, *_rest in plugins}
    needs = {}
    for _pk, market, name, entry, found, market_name in plugins:
        needs[(market, name)] = []
        lost = {written for written in declared({}, found) if written.partition("@")[2] == market_name
                } if market in renamed else set()
        for written in declared(entry, found):
            needed, _, other = written.partition("@")
            if written in lost:
                needs[(market, name)].append((written, (None, written)))  # no plugin answers to that
            elif other in ("", market_name):
                needs[(market, name)].append((written, (market, needed)))
            elif other in together:
                needs[(market, name)].append((written, (together[other], needed)))
    return {ids[key]: found[0][0] for key, found in unmet(needs, ids).items()}


def served_entry(entry: dict, marketplace) -> dict:
    """A marketplace.json entry as a catalogue serving `marketplace` under another name than its own gives it
    (`catalogue_name`, where another marketplace here has that name): its dependencies on plugins of its own
    marketplace named "base@<its name>" would name another marketplace there, and Claude Code refuses the install;
    they are named by name alone. A plugin.json cannot be rewritten so (`wanting`'s `renamed`)."""
    if not marketplace.renamed:
        return entry
    return {**entry, **{key: as_own(entry[key], {marketplace.name}) for key in ("dependencies", "optionalDependencies")
                        if key in entry}}


def as_own(value, marketplaces):
    """A `dependencies` field with the plugins of `marketplaces` (names) named by name alone, for a copy that
    serves them under another marketplace's name, where "name@marketplace" would name the original."""
    if not isinstance(value, list):
        return value
    named = []
    for item in value:
        if isinstance(item, str) and item.partition("@")[2] in marketplaces:
            item = item.partition("@")[0]
        elif isinstance(item, dict) and item.get("marketplace") in marketplaces:
            item = {key: field for key, field in item.items() if key != "marketplace"}
        named.append(item)
    return named


def unmet(needs: dict, present, lacking=()) -> dict:
    """Which of the plugins `present` lack something they need: {key: [(a dependency as written, whether that
    one is present but lacks something itself)]}, those missing outright first, each in the order written.
    `needs` maps a plugin's key to [(as written, key of the plugin needed)], as `own` gives them; `lacking`
    names plugins present that do not load for a reason of their own (a version required), left to the caller
    to report, whose lack passes on to their dependents all the same."""
    present = set(present)
    dependents = {}
    for key in present:
        for written, needed in needs.get(key, ()):
            dependents.setdefault(needed, []).append((key, written))
    # Breadth first from the plugins missing one outright, each passed on once: a chain of thousands costs
    # what its length does, and a cycle of present plugins drops nothing.
    queue = deque((key, written, False) for key in sorted(present) for written, needed in needs.get(key, ())
                  if needed not in present)
    passed_on = set(lacking)
    queue.extend((dependent, how, True) for key in sorted(passed_on) for dependent, how in dependents.get(key, ()))
    dropped = {}
    while queue:
        key, written, transitive = queue.popleft()
        if key not in passed_on:
            passed_on.add(key)
            queue.extend((dependent, how, True) for dependent, how in dependents.get(key, ()))
        dropped.setdefault(key, []).append((written, transitive))
    return dropped


def constraints(manifest: dict | None, marketplace: str) -> list[tuple[str, str, str]]:
    """[(as written, plugin name, the versions required)] for each plugin of its own marketplace that a
    plugin.json asks for by version (`{"name": "base", "version": "^2.0.0"}`): Claude Code (2.1.332) reads a
    version there, and passes over one in a marketplace entry."""
    asked, listed = [], (manifest or {}).get("dependencies")
    for item in listed if isinstance(listed, list) else ():  # any other type is refused as a field of the wrong type
        named = claudefields.dependency_names([item])
        if isinstance(item, dict) and isinstance(item.get("version"), str) and named:
            written = named[0]
            name, _, market = written.partition("@")
            if market in ("", marketplace):
                asked.append((written, name, item["version"]))
    return asked


def satisfies(version: str, required: str) -> bool | None:
    """Does a plugin of `version` ("" where it declares none) meet `required`, an npm range such as "^2.0.0",
    as Claude Code judges it? None where `required` is not a range at all, which Claude Code refuses at install.
    A version that is not one is read for its first run of digits (so release-7 is 7.0.0), as npm's `coerce`
    reads it; a plugin without a version meets no range, not even "*". A range too long to judge passes."""
    required = claudefields.version_range(required)
    if required is None:
        return None
    if len(required) > claudefields.MAX_RANGE:
        return True
    found = nodesemver.valid(version, False)
    if found is None and (digits := COERCE.search(version)):
        found = ".".join(number or "0" for number in digits.groups())
    return found is not None and nodesemver.satisfies(found, required, False)


def cycles(needs: dict) -> dict:
    """The plugins whose dependencies lead round in a circle: {key: [key, ..., the first key met again]}, the
    path Claude Code names, its first `SHOWN` steps (a path cut short does not end on a key met before).
    `needs` as for `unmet`; a dependency not among its keys leads nowhere."""
    edges = {key: [needed for _written, needed in wanted if needed in needs] for key, wanted in needs.items()}
    dependents, waiting = {}, {}
    for key, wanted in edges.items():
        waiting[key] = len(wanted)
        for needed in wanted:
            dependents.setdefault(needed, []).append(key)
    # Peeled from the plugins that need nothing: what is left reaches a cycle, each by a dependency left.
    queue = deque(key for key, count in waiting.items() if count == 0)
    while queue:
        for dependent in dependents.get(queue.popleft(), ()):
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                queue.append(dependent)
    left = {key for key, count in waiting.items() if count}
    found = {}
    for key in sorted(left):
        path, seen = [key], {key}
        while len(path) <= SHOWN:
            step = next(needed for needed in edges[path[-1]] if needed in left)
            path.append(step)
            if step in seen:
                break
            seen.add(step)
        found[key] = path
    return found

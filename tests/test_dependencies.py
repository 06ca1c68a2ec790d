"""marketplace/dependencies.py: which plugins have what they depend on, as Claude Code (2.1.332) decides it.
test_claude_code_oracle.py holds the reader to the CLI; these are the rules' edges, and hostile shapes."""
import json

import nodesemver

from marketplace import dependencies


def needs(**graph):
    return {key: [(needed, needed) for needed in wanted] for key, wanted in graph.items()}


def test_own_reads_both_fields_once_each_and_only_the_plugins_own_marketplace():
    entry = {"dependencies": ["a", "b@acme", {"name": "c", "marketplace": "acme"}, "d@other", 5, "a"]}
    manifest = {"dependencies": ["b@acme", {"name": "e"}, {"name": "f", "marketplace": "other"}]}
    assert dependencies.own(entry, manifest, "acme") == [("a", "a"), ("b@acme", "b"), ("c@acme", "c"), ("e", "e")]
    assert dependencies.own({"dependencies": "a"}, None, "acme") == []


def test_unmet_says_each_dependency_missing_and_passes_the_lack_on():
    graph = needs(app=["base"], chain=["app"], tail=["chain"], base=[], alone=["gone", "base", "also-gone"])
    assert dependencies.unmet(graph, ["app", "chain", "tail", "base", "alone"]) == {
        "alone": [("gone", False), ("also-gone", False)]}
    assert dependencies.unmet(graph, ["app", "chain", "tail", "alone"]) == {
        "app": [("base", False)], "chain": [("app", True)], "tail": [("chain", True)],
        "alone": [("gone", False), ("base", False), ("also-gone", False)]}
    # A circle of plugins present leaves each with what it needs (installing them is what Claude Code refuses).
    assert dependencies.unmet(needs(p=["q"], q=["p"]), ["p", "q"]) == {}


def test_cycles_name_the_path_claude_code_names():
    graph = needs(p=["q"], q=["p"], r=["r"], u=["p"], s=["t"], t=[], v=["nowhere"])
    assert dependencies.cycles(graph) == {"p": ["p", "q", "p"], "q": ["q", "p", "q"], "r": ["r", "r"],
                                          "u": ["u", "p", "q", "p"]}


def test_a_hostile_chain_of_thousands_is_judged_and_each_path_named_is_cut_short():
    """A catalogue of 20,000 plugins each depending on the next, into a circle: every one reaches the circle, and
    the path each message names stops at SHOWN steps (walked whole, each walk would be as long as the chain)."""
    n = 20_000
    graph = needs(**{f"p{i}": [f"p{i + 1}"] for i in range(n)}, **{f"p{n}": ["p0"]})
    found = dependencies.cycles(graph)
    missing = dependencies.unmet(needs(**{f"p{i}": [f"p{i + 1}"] for i in range(n)}), [f"p{i}" for i in range(n)])
    assert len(found) == n + 1 and {len(path) for path in found.values()} == {dependencies.SHOWN + 1}
    assert found["p0"][-1] != "p0" and found[f"p{n}"] == [f"p{n}", "p0", *(f"p{i}" for i in range(1, 12))]
    assert len(missing) == n and missing["p0"] == [("p1", True)] and missing[f"p{n - 1}"] == [(f"p{n}", False)]


def test_as_own_names_the_copys_marketplaces():
    assert dependencies.as_own(["a@acme", "b", "c@other", {"name": "d", "marketplace": "acme"}, 5, "e@labs"],
                               {"acme", "labs"}) == ["a", "b", "c@other", {"name": "d"}, 5, "e"]
    assert dependencies.as_own("a@acme", {"acme"}) == "a@acme"


def test_wanting_finds_a_dependency_of_a_marketplace_served_together():
    rows = [(1, "m1", "app", {"dependencies": ["base", "tool@two", "x@far"]}, None, "one"),
            (2, "m1", "base", {}, None, "one"), (3, "m2", "tool", {"dependencies": ["gone"]}, None, "two")]
    # Alone, a marketplace's plugins are judged by each other only: app's tool@two is not looked for.
    assert dependencies.wanting(rows) == {3: "gone"}
    assert dependencies.wanting(rows, {"two": "m2"}) == {1: "tool@two", 3: "gone"}
    assert dependencies.wanting(rows[:2] + [(3, "m2", "tool", {}, None, "two")], {"two": "m2"}) == {}


def test_satisfies_reads_ranges_and_versions_as_claude_code_does():
    """test_claude_code_oracle.py holds these to the CLI's verdicts too."""
    assert dependencies.satisfies("1.0.5", "~>1.0") and dependencies.satisfies("1.0.5", "")
    assert dependencies.satisfies("1.0.5", "1.0.0 - 1.0.4 || ^1.0.5") and dependencies.satisfies("v1.2.3", "^1.2.0")
    assert dependencies.satisfies("release-7", ">=7") and dependencies.satisfies("2.0.0-beta.1", "^2.0.0-alpha")
    assert dependencies.satisfies("2.0.0-beta.1", ">=1.0.0") is False and dependencies.satisfies("1.5.0", "^2") is False
    assert dependencies.satisfies("", "*") is False and dependencies.satisfies("unversioned", "*") is False
    assert dependencies.satisfies("1.0.0", "latest") is None and dependencies.satisfies("1.0.0", "1.2.3.4") is None


def test_constraints_are_read_from_a_plugin_json_of_its_own_marketplace():
    manifest = {"dependencies": ["a", {"name": "b", "version": "^1"}, {"name": "c", "marketplace": "acme", "version": "2"},
                                {"name": "d", "marketplace": "other", "version": "3"}, {"name": "e", "version": 4}]}
    assert dependencies.constraints(manifest, "acme") == [("b", "b", "^1"), ("c@acme", "c", "2")]
    assert dependencies.constraints(None, "acme") == [] and dependencies.constraints({"dependencies": "a"}, "x") == []
    assert dependencies.constraints({"dependencies": 7}, "x") == dependencies.constraints({"dependencies": {
        "name": "b", "version": "1"}}, "x") == []


def test_a_hostile_range_reaches_node_semver_collapsed_and_short(monkeypatch):
    """node-semver's expressions take time in the square of a run of spaces (20,000 took seven seconds), and a
    range of thousands of alternatives takes a second: what reaches it has single spaces, and is at most
    MAX_RANGE long; a longer range is not judged."""
    given = []
    checked = nodesemver.valid_range
    monkeypatch.setattr(nodesemver, "valid_range", lambda text, loose: given.append(text) or checked(text, loose))
    assert dependencies.satisfies("1.0.0", ">=1.0.0" + " " * 50_000 + "<2") is True
    assert dependencies.satisfies("1.0.0", "^" + " \t\n" * 20_000 + "2") is False
    assert dependencies.satisfies("1.0.0", "2||" * 50_000) is True  # not judged
    assert given == [">=1.0.0 <2", "^ 2"]


def test_a_catalogues_allowed_marketplaces_are_kept_once_and_only_as_names():
    """Served again in every member's curated catalogue: no repeats, and nothing a dependency could not name."""
    from marketplace.manifest import parse_catalog

    catalog = parse_catalog(json.dumps({
        "name": "acme", "owner": {"name": "A"}, "plugins": [],
        "allowCrossMarketplaceDependenciesOn": ["labs", "labs", "not a name", "x\u0000y", "../up", "tools.v2"] * 1000,
    }).encode(), "marketplace.json", "")
    assert catalog.cross_marketplace == ["labs", "tools.v2"]

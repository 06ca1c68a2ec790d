"""Skill bodies are rendered with cmark-gfm as cmarkgfm would, without the memory cmarkgfm never frees."""
from pathlib import Path

import cmarkgfm
from cmarkgfm.cmark import Options

from marketplace import rendering

DOCUMENTS = [
    "",
    "# Title\n\nSome *text* with `code`, ~~struck~~ and www.example.com.\n\n- [ ] a task\n- [x] done\n",
    "| a | b |\n| --- | :-: |\n| 1 | 2 |\n",
    "```python\nprint('x')\n```\n\n<details><summary>raw</summary><script>alert(1)</script></details>\n",
    "> quote\n>> nested\n\n1. one\n2. two\n\n[link](https://example.com) ![img](data:image/png;base64,AA==)\n",
]


def resident_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_renders_what_cmarkgfm_renders():
    for document in DOCUMENTS:
        expected = cmarkgfm.github_flavored_markdown_to_html(document, options=Options.CMARK_OPT_UNSAFE)
        assert rendering._github_markdown(document) == expected


def test_rendering_many_bodies_keeps_memory_flat():
    body = "\n".join(f"{i}. Run `tool --step {i}` and read its *output* before going on." for i in range(40))
    for i in range(200):  # warm up the allocator
        rendering.render(f"{body}\n{i}")
    before = resident_kb()
    for i in range(3000):
        rendering.render(f"{body}\n{i}")
    # cmarkgfm's own function kept about 30 KB a body: 90 MB here.
    assert resident_kb() - before < 15_000

"""How the code highlighter's lexers take hostile text: the time between two tokens, against the text's size.

Pygments' lexers are regular expressions tried at each position of the text, and for some a text
made of one character repeated makes each try scan to its end: the whole takes time growing with
the square of the size (AutoIt, 8,000 spaces: 9 s), or the cube (Easytrieve, 2,000 tabs: 12.6 s,
eight times that per doubling). A SKILL.md's fenced code, a file's name and its text all come from
repositories we do not control. `rendering` stops highlighting a document at
`rendering.HIGHLIGHT_SECONDS`, checked between tokens, and that holds only where one token never
takes long: so it highlights only the languages in `rendering.HIGHLIGHTED`, whose lexers this finds
to yield their tokens a few milliseconds apart however the text is made.

For each of those lexers, made as `rendering` makes them (or others: --lexers, --all),
and each hostile text (a character repeated, two alternating, an unclosed string or comment, a
prompt before either):

- `step_ms`: the longest wait for one token in a text of `rendering.MAX_HIGHLIGHT_CHARS` characters,
  the largest highlighted, within its first --step-cap seconds, in this thread's CPU time (another
  process taking the core is not the lexer's step); `step_given_up` when one token was still awaited a
  second past that, so it takes that long at least.
- `growth`: the whole's time for --small characters and 4 times that, the larger over the smaller
  (4: linear; 16: quadratic), each stopped at --cap seconds (`capped`). The deadline bounds the whole;
  this says how much a lexer would take without it.

Prints one JSON object; `unsafe` holds the lexers with a step over --step-ms. See bench/README.md.

    .venv/bin/python bench/highlight.py                     # the languages highlighted: half an hour
    .venv/bin/python bench/highlight.py --lexers ini,nginx  # languages one might add
    .venv/bin/python bench/highlight.py --all --cap 1       # every lexer: hours
"""
import argparse
import gc
import json
import signal
import time

from common import log

from pygments.lexers import find_lexer_class_by_name, get_all_lexers

CHARACTERS = " \t\na([{\"'\\/*#<-=0.$%@:;`|!&"
UNCLOSED = ('"', "'", "`", "/*", "<!--", "'''", '"""', "(*", "{-", "#|", "<<EOF\n", "[[", "```python\n")
PROMPTS = ("$ ", ">>> ", "PS> ", "> ")


def hostile_texts(size):
    texts = {f"{c!r} x {size}": c * size for c in CHARACTERS}
    texts.update({f"{a + b!r} x {size // 2}": (a + b) * (size // 2) for a in "\"'(/<*\\ " for b in "a \\(*/#\""})
    texts.update({f"{opener!r} then 'a ' x {size // 2}": opener + "a " * (size // 2) for opener in UNCLOSED})
    texts.update({f"{prompt!r} then {c!r} x {size}": prompt + c * size for prompt in PROMPTS for c in "0\"'(:"})
    return texts


class _Stopped(Exception):
    pass


def _stop(_signal, _frame):
    raise _Stopped


def measure(lexer, text, cap):
    """CPU seconds to lex `text` whole (or until `cap`), the longest of them for one token, and whether it
    was capped. A token still awaited a second past `cap` is given up on (SIGALRM): some take hours."""
    gc.disable()  # a collection's pause is not the lexer's step
    previous = signal.signal(signal.SIGALRM, _stop)
    signal.setitimer(signal.ITIMER_REAL, cap + 1)
    started = last = time.thread_time()
    longest = 0.0
    try:
        for _token in lexer.get_tokens(text):
            now = time.thread_time()
            longest, last = max(longest, now - last), now
            if now - started > cap:
                return now - started, longest, True
        return time.thread_time() - started, longest, False
    except _Stopped:
        now = time.thread_time()
        return now - started, max(longest, now - last), True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        gc.enable()


def lexers(every, named):
    """(alias, lexer) for each lexer measured: those highlighted made as `rendering` makes them, or every
    lexer, or those `named`, made with their defaults."""
    from marketplace import rendering

    if every or named:
        aliases = named or sorted({aliases[0] for _name, aliases, _files, _types in get_all_lexers() if aliases})
        return [(alias, find_lexer_class_by_name(alias)()) for alias in aliases]
    return [(alias, rendering.lexer_of(find_lexer_class_by_name(alias))) for alias in sorted(rendering.HIGHLIGHTED)]


def main():
    from marketplace import rendering

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="every lexer Pygments has, not only those highlighted")
    parser.add_argument("--lexers", type=lambda value: value.split(","), default=[],
                        help="comma-separated aliases to measure instead (languages one might highlight)")
    parser.add_argument("--small", type=int, default=4000, help="characters of the smaller text (default 4000)")
    parser.add_argument("--cap", type=float, default=3.0, help="seconds one text may take (default 3)")
    parser.add_argument("--step-cap", type=float, default=0.5,
                        help="seconds of each largest text lexed, to find its longest step (default 0.5)")
    parser.add_argument("--step-ms", type=float, default=250.0,
                        help="the longest step a safe lexer takes in the largest text (default 250)")
    args = parser.parse_args()
    results = {}
    for alias, lexer in lexers(args.all, args.lexers):
        worst = {"step_ms": 0.0, "step_text": None, "step_given_up": False, "growth": 0.0, "growth_text": None,
                 "capped": False}
        texts = zip(hostile_texts(args.small).items(), hostile_texts(args.small * 4).values(),
                    hostile_texts(rendering.MAX_HIGHLIGHT_CHARS).values())
        for (name, small_text), large_text, largest_text in texts:
            small_seconds, _, capped = measure(lexer, small_text, args.cap)
            large_seconds, _, capped = (small_seconds, 0.0, True) if capped else measure(lexer, large_text, args.cap)
            growth = large_seconds / max(small_seconds, 1e-4)
            if (capped, growth) > (worst["capped"], worst["growth"]):
                worst.update(growth=round(growth, 1), growth_text=name, capped=capped)
            _, step, step_capped = measure(lexer, largest_text, args.step_cap)
            if step * 1000 > worst["step_ms"]:
                # One step past --step-cap was given up on: it takes that long at least.
                worst.update(step_ms=round(step * 1000, 2), step_text=name.rsplit(" x ", 1)[0],
                             step_given_up=step_capped and step >= args.step_cap)
        results[alias] = worst
        log(f"{alias}: {worst}")
    unsafe = sorted((alias for alias, r in results.items() if r["step_ms"] > args.step_ms),
                    key=lambda alias: -results[alias]["step_ms"])
    print(json.dumps({
        "sizes": [args.small, args.small * 4, rendering.MAX_HIGHLIGHT_CHARS],
        "cap_seconds": args.cap,
        "step_cap_seconds": args.step_cap,
        "step_ms_limit": args.step_ms,
        "lexers": len(results),
        "unsafe": {alias: results[alias] for alias in unsafe},
        "safe": {alias: r for alias, r in results.items() if alias not in unsafe},
    }, indent=2))


if __name__ == "__main__":
    main()

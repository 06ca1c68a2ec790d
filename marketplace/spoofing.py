"""Names that hide or imitate characters: bidi controls, invisible characters, look-alike letters.

A name is what people read before they trust a plugin or a skill, so a name that displays as
something it is not (UTS #39) is reported wherever names are read: marketplaces, plugins, skills.
Look-alikes come from Unicode's confusables data through `confusable_homoglyphs`.
"""
import unicodedata

# Characters that reorder the text around them (Unicode's Bidi_Control property).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Default_Ignorable_Code_Point characters that are not format (Cf) characters: they render as
# nothing too. Format characters (zero-width space and joiners, word joiner, BOM, soft hyphen,
# tags, ...) are found by their category.
IGNORABLE_NOT_FORMAT = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u3164\uffa0"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
    + "".join(chr(c) for c in range(0xE0100, 0xE01F0))
)


def spoofing_problem(name: str, what: str) -> tuple[str, str] | None:
    """(code, message) when `name` hides characters or imitates another name, else None.

    `what` names the thing in the message ("Plugin name", "Skill name", "Marketplace name").
    """
    bidi = [c for c in name if c in BIDI_CONTROLS]
    if bidi:
        return (
            "name-bidi-control",
            f"{what} {_shown(name)} contains {_describe(bidi)}, which reorders how the name is "
            "displayed so it can read as something else. Remove it.",
        )
    invisible = [c for c in name if unicodedata.category(c) == "Cf" or c in IGNORABLE_NOT_FORMAT]
    if invisible:
        return (
            "name-invisible-character",
            f"{what} {_shown(name)} contains {_describe(invisible)}, which is not displayed, so two "
            "different names can look the same. Remove it.",
        )
    lookalike = reads_as(name)
    if lookalike is not None:
        return (
            "name-confusable",
            f"{what} {_shown(name)} is spelled with letters of another script that look like Latin ones"
            + (f" and reads as '{lookalike}'" if lookalike else "")
            + ". Spell it in one script (plain ASCII letters for names other people type).",
        )
    return None


def reads_as(name: str) -> str | None:
    """What a name imitates: its Latin look-alike when every letter has one, "" when it only mixes
    scripts with look-alike letters, None when it imitates nothing.

    A name written wholly in another script is fine unless every letter of it passes for Latin
    ("рау" in Cyrillic reads as "pay"); a mixed-script name is suspect once one letter does.
    """
    if name.isascii():
        return None
    # Imported here: its data takes 0.1 s to load, which every manage.py command would pay (the admin
    # imports the sync), and only non-ASCII names need it.
    from confusable_homoglyphs import confusables

    found = confusables.is_confusable(name, greedy=True, preferred_aliases=["latin"]) or []
    latin = {}
    for item in found:
        ascii_glyphs = [g["c"] for g in item["homoglyphs"] if g["c"].isascii()]
        if ascii_glyphs:
            latin[item["character"]] = ascii_glyphs[0]
    skeleton = "".join(latin.get(c, c) for c in name)
    if skeleton.isascii():
        return skeleton
    if latin and confusables.is_mixed_script(name):
        return ""
    return None


def _shown(name: str) -> str:
    """The name quoted with every hidden character spelled out, so the message itself cannot lie."""
    return "'" + "".join(
        f"<U+{ord(c):04X}>" if c in BIDI_CONTROLS or unicodedata.category(c) in ("Cf", "Cc")
        or c in IGNORABLE_NOT_FORMAT else c
        for c in name
    ) + "'"


def _describe(chars) -> str:
    first = chars[0]
    label = unicodedata.name(first, "an unnamed character")
    more = f" (and {len(chars) - 1} more)" if len(chars) > 1 else ""
    return f"U+{ord(first):04X} {label}{more}"

"""The three verdicts on a skill (FORMAT.md §4), each a (bool, reasons) pair.

Claude Code is lenient, the Agent Skills specification is strict, and Claude.ai's uploader
is strict in its own ways; a skill can pass one and fail another, so each is judged apart.
"""
import re

from django.db import models

from . import skillmd

SPEC_KEYS = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}
SPEC_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
UPLOAD_LIMIT_BYTES = 8 * 1024 * 1024


class Verdict(models.TextChoices):
    """Each verdict by the Skill flag holding it (also its key in the API and its value in filters), and its label."""

    LOADS_IN_CLAUDE_CODE = "loads_in_claude_code", "Loads in Claude Code"
    SPEC_VALID = "spec_valid", "Valid Agent Skill"
    CLAUDE_AI_UPLOADABLE = "claude_ai_uploadable", "Uploadable to Claude.ai"
    SCAN_PASSED = "scan_passed", "Passes the security scan"

    @property
    def reasons_key(self) -> str:
        """Its key in `Skill.verdict_reasons`: the name of the function below that judges it (stored, so
        unchanged); the scan's reasons are its findings, written by scans.py."""
        return {"loads_in_claude_code": "claude_code", "spec_valid": "agent_skills_spec",
                "claude_ai_uploadable": "claude_ai", "scan_passed": "security_scan"}[self.value]


def claude_code(skill_md, readable_reason="", name_spoofing="", plugin_refusal="", not_offered=""):
    """Claude Code loads nearly any skill; an unreadable SKILL.md, or a plugin it refuses, stops it.

    A name that hides or imitates characters still loads, so it is a reason, never a pass; so does a skill
    Claude Code does not offer to Claude (skillmd.not_offered), which runs when someone types its command.
    """
    if plugin_refusal:
        return False, [f"Claude Code will not load its plugin: {plugin_refusal}"]
    if readable_reason:
        return False, [readable_reason]
    reasons = [message for _code, message in skill_md.repairs] + _validator_refusals(skill_md.frontmatter)
    if name_spoofing:
        reasons.append(name_spoofing)
    if not_offered:
        reasons.append(f"Claude Code does not offer it to Claude ({not_offered}): it runs only when someone types "
                       "its command")
    return True, reasons


def _validator_refusals(fm) -> list[str]:
    """What `claude plugin validate` refuses in a plugin's SKILL.md: reasons on a verdict that still passes."""
    return [f"'{field}' {why}" for field, why in skillmd.refused_fields(fm)]


def agent_skills_spec(skill_md, folder_name):
    fm = skill_md.frontmatter
    reasons = []
    if not skill_md.has_frontmatter:
        reasons.append("no frontmatter: 'name' and 'description' are required")
    elif not skill_md.frontmatter_ok:
        reasons.append("frontmatter is not valid YAML")
    reasons += _name_reasons(fm.get("name"), folder_name)
    reasons += _description_reasons(fm.get("description"))
    if "license" in fm and not isinstance(fm["license"], str):
        reasons.append("'license' must be a string")
    if "compatibility" in fm:
        value = fm["compatibility"]
        if not isinstance(value, str) or not 1 <= len(value) <= 500:
            reasons.append("'compatibility' must be a string of 1 to 500 characters")
    if "metadata" in fm:
        meta = fm["metadata"]
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            reasons.append("'metadata' must map strings to strings")
    if "allowed-tools" in fm and not isinstance(fm["allowed-tools"], str):
        reasons.append("'allowed-tools' must be a space-separated string")
    unknown = sorted(set(fm) - SPEC_KEYS)
    if unknown:
        reasons.append(f"keys not in the specification: {', '.join(unknown)}")
    return not reasons, reasons


def claude_ai(skill_md, folder_name, total_bytes, nested_skill_files, omitted_files):
    """What Claude.ai's skill upload accepts (and the Skills API: same rules, < 8 MB)."""
    fm = skill_md.frontmatter
    reasons = []
    if not skill_md.has_frontmatter or not skill_md.frontmatter_ok:
        reasons.append("SKILL.md needs valid YAML frontmatter")
    unknown = sorted(set(fm) - SPEC_KEYS)
    if unknown:
        reasons.append(f"unexpected frontmatter keys: {', '.join(unknown)}")
    name, description = fm.get("name"), fm.get("description")
    reasons += _name_reasons(name, folder_name=None)
    reasons += _description_reasons(description)
    for key, value in (("name", name), ("description", description)):
        if isinstance(value, str) and re.search(r"[<>]", value):
            reasons.append(f"'{key}' must not contain XML tags (< or >)")
    if isinstance(name, str) and re.search(r"anthropic|claude", name, re.IGNORECASE):
        reasons.append("'name' must not contain 'anthropic' or 'claude'")
    if nested_skill_files:
        reasons.append(f"zip must contain exactly one SKILL.md file (also found: {', '.join(nested_skill_files[:3])})")
    if total_bytes >= UPLOAD_LIMIT_BYTES:
        reasons.append(f"package is {total_bytes} bytes; uploads must be under 8 MB")
    if omitted_files:
        reasons.append(f"{omitted_files} file(s) were left out by Skillport's limits; the package would be incomplete")
    return not reasons, reasons


def _name_reasons(name, folder_name):
    if name is None:
        return ["'name' is missing"]
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        return ["'name' must be a string of 1 to 64 characters"]
    reasons = []
    if not SPEC_NAME.match(name):
        reasons.append("'name' may hold only lowercase letters, digits and single inner hyphens")
    if folder_name is not None and name != folder_name:
        reasons.append(f"'name' ({name}) must equal the folder name ({folder_name})")
    return reasons


def _description_reasons(description):
    if description is None:
        return ["'description' is missing"]
    if not isinstance(description, str) or not description.strip():
        return ["'description' must be a non-empty string"]
    if len(description) > 1024:
        return [f"'description' is {len(description)} characters; at most 1024 are allowed"]
    return []

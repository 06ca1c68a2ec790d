"""A tool called with the wrong arguments, told in our words: what was wrong, and what the tool takes.

The SDK validates arguments with pydantic and would hand Claude pydantic's report (model names,
`[type=missing, input_value=...]` and a link to pydantic's site). Claude needs only which
argument is missing or of the wrong kind, which ones the tool does not take, and the list of the
ones it does, read from the tool's own input schema (so the descriptions that teach the
`marketplace/plugin/skill` format are repeated where the mistake happened).
"""
from pydantic import ValidationError

# Pydantic's error types, as what the value should have been.
EXPECTED = {
    "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
    "string_type": "a string", "bool_type": "true or false", "bool_parsing": "true or false",
    "list_type": "a list", "dict_type": "an object", "model_type": "an object", "model_attributes_type": "an object",
}


def explain(tool: str, schema: dict, arguments: dict, error: ValidationError) -> str:
    """One message for Claude: each problem, then every argument `tool` takes."""
    properties = schema.get("properties", {})
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        where = _where(item["loc"])
        if item["type"] == "missing":
            problems.append(f"{where} is missing")
        elif len(item["loc"]) == 1 and item["loc"][0] in properties:
            problems.append(f"{where} must be {_kind(properties[item['loc'][0]], schema)}")
        else:
            problems.append(f"{where} must be {EXPECTED.get(item['type'], 'something else: ' + item['msg'].lower())}")
    # The caller's own key names, echoed back: a few, each cut short, keep the message short.
    unknown = [name[:40] for name in sorted(set(arguments) - set(properties))[:5]] if isinstance(arguments, dict) else []
    if unknown:
        problems.append(f"{' and '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not among its arguments")
    required = set(schema.get("required", []))
    taken = "; ".join(
        f"{name} ({'required, ' if name in required else ''}{_kind(spec, schema)})" + _gist(spec)
        for name, spec in properties.items()
    )
    return f"Wrong arguments for {tool}: {'; '.join(dict.fromkeys(problems))}. It takes {taken or 'no arguments'}."


def _where(loc) -> str:
    """("installed", 0, "name") as installed[0].name."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _kind(spec: dict, schema: dict) -> str:
    """What a JSON schema asks for, in a few words: "a string", "a list of {name, version}", "one of CC, CD"."""
    if "anyOf" in spec:
        return " or ".join(_kind(option, schema) for option in spec["anyOf"] if option.get("type") != "null")
    if "$ref" in spec:
        fields = schema.get("$defs", {}).get(spec["$ref"].rsplit("/", 1)[-1], {}).get("properties", {})
        return "{" + ", ".join(fields) + "}"
    if "enum" in spec:
        return "one of " + ", ".join(map(str, spec["enum"]))
    kind = spec.get("type")
    if kind == "array":
        return "a list" + (f" of {_kind(spec['items'], schema)}" if spec.get("items") else "")
    return {"string": "a string", "integer": "a whole number", "number": "a number", "boolean": "true or false",
            "object": "an object"}.get(kind, "a value")


def _gist(spec: dict) -> str:
    """The first sentence of the argument's description, if it has one."""
    description = spec.get("description", "")
    return f": {description.split('. ')[0].rstrip('.')}" if description else ""

"""The typed fields the hub's edges parse with, and how a pydantic `ValidationError` reads.

Socket payloads (`gala/realtime/commands.py`), producers' cue edits (`cue_edits.py`) and show
files (`show_document.py`) are parsed by pydantic into frozen objects built from these fields.
Every field is strict: a string is never read as a number, a bool never as an int, a float never
as an int; every int and every string has a bound. `problems` turns a `ValidationError` into
(field path, human message) pairs, the one reading of pydantic's errors every edge shares.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, Strict, StringConstraints, ValidationError

from gala.kernel.ids import ID_PATTERN

# pydantic-core matches patterns with Rust's regex, where `$` is the end of the text (a trailing
# newline is refused), as `re.fullmatch` does for the kernel's ID_PATTERN.
ID_REGEX = ID_PATTERN.pattern
# A cue number as show files write it: "1", "6", "6.1", "12.25". Decimal, so the console sorts and
# reads them; bounded, so a number is never a paragraph.
CUE_NUMBER_REGEX = r"^[0-9]{1,6}(\.[0-9]{1,4})?$"
MAX_LABEL_CHARS = 200
MAX_NOTES_CHARS = 2000
JSON_SAFE_INT = 2**53  # what a browser's JavaScript number holds exactly

Id = Annotated[
    str, Strict(), StringConstraints(pattern=ID_REGEX), Field(description="an id of [a-z0-9-]")
]
CueNumberText = Annotated[str, Strict(), StringConstraints(pattern=CUE_NUMBER_REGEX)]
CueNumberInt = Annotated[int, Strict(), Field(ge=0, le=999_999)]
NON_BLANK_REGEX = r"\S"
Label = Annotated[
    str, Strict(), StringConstraints(max_length=MAX_LABEL_CHARS, pattern=NON_BLANK_REGEX)
]
Notes = Annotated[str, Strict(), StringConstraints(max_length=MAX_NOTES_CHARS)]
Flag = Annotated[bool, Strict()]


def bounded_int(low: int, high: int) -> object:
    """A strict int in [low, high]: `Annotated[int, bounded_int(1, 1000)]`."""
    return Field(strict=True, ge=low, le=high)


_PATTERN_MEANINGS = {
    ID_REGEX: "an id of [a-z0-9-] (at most 64 characters, starting with a letter or digit)",
    CUE_NUMBER_REGEX: 'a decimal cue number such as "6" or "6.1" (at most 6 digits, 4 decimals)',
    NON_BLANK_REGEX: "a non-empty string",
}


def path_of(location: tuple[int | str, ...]) -> str:
    """`("cues", 3, "id")` -> `cues[3].id`: the place as a show file's author reads it."""
    text = ""
    for part in location:
        if part == "[key]":  # pydantic's mark for a table's key rather than its value
            text += " (the table's name)"
        elif isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


_SHAPES = {
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "dataclass_type": "must be a table",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "int_type": "must be a whole number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "missing": "is required",
}


def explain(error_type: str, message: str, context: dict[str, object] | None) -> str:
    """Pydantic's message for one error, phrased to follow a field name."""
    context = context or {}
    if error_type in _SHAPES:
        return _SHAPES[error_type]
    if error_type == "string_pattern_mismatch":
        pattern = str(context.get("pattern"))
        return f"must be {_PATTERN_MEANINGS.get(pattern, f'text matching {pattern}')}"
    if error_type == "too_short":
        return f"must have at least {context.get('min_length')} item(s)"
    if error_type == "too_long":
        return f"must have at most {context.get('max_length')} items"
    if message.startswith("must "):  # our own validators' messages
        return message
    for opening, verb in (("Input should be", "must be"), ("String should", "must")):
        if message.startswith(opening):
            return verb + message[len(opening) :]
    return f"is not valid: {message[0].lower()}{message[1:]}" if message else "is not valid"


def problems(error: ValidationError, skip: int = 0) -> list[tuple[tuple[int | str, ...], str]]:
    """Each problem as (its location, a message naming it). `skip` drops leading location parts
    pydantic adds for a tagged union's tag."""
    found = []
    for item in error.errors(include_url=False, include_input=False):
        location = tuple(item["loc"])[skip:]
        phrase = explain(item["type"], item["msg"], item.get("ctx"))
        found.append((location, f"{path_of(location) or 'the payload'} {phrase}"))
    return found

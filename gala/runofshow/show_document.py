"""The shape of a show file (docs/shows.md) as frozen pydantic dataclasses: `ShowDocument` and its
tables, each field typed and bounded (`fields.py`). `CueTable` is also the cue a producer sends
in a `cue:edit`, so a cue edited on the console is checked exactly as a cue in a file.

This is the document alone: what each field may hold. What the tables must agree on (a product's
sponsor is listed, the default locale is one of the locales, cue ids are unique, an action fits
the show's products and languages) is checked by `showfile.py` on the parsed document. Unknown
keys are ignored, as they always were, so a file written for a newer gala still loads.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BeforeValidator,
    Field,
    JsonValue,
    PlainValidator,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

from gala.runofshow.fields import (
    CUE_NUMBER_REGEX,
    Id,
    Label,
    Notes,
    bounded_int,
    problems,
)

MAX_CUES = 2000
MAX_ACTIONS_PER_CUE = 100
DAY_MS = 24 * 3_600_000
TIME_OF_DAY_REGEX = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _number_text(value: object) -> object:
    """A cue number may be written as a TOML integer (`number = 3`); a float never (6.10 would
    read as 6.1, and nan or inf as words); null never (leave it out to number by place)."""
    if type(value) is int and 0 <= value <= 999_999:
        return str(value)
    if not isinstance(value, str):
        raise PydanticCustomError(
            "string_pattern_mismatch", "not a cue number", {"pattern": CUE_NUMBER_REGEX}
        )
    return value


# Optional in a table, so its type admits None, which only the default gives: the validator
# refuses an explicit null.
CueNumber = Annotated[
    Annotated[str, StringConstraints(pattern=CUE_NUMBER_REGEX)] | None,
    BeforeValidator(_number_text),
]
Milliseconds = Annotated[int, bounded_int(0, DAY_MS)]
# An action is a table whose fields depend on its `do`; the feature that owns the action kind
# checks it against the show (overlays, commerce.show_sales, redpackets.show_drops).
ActionTable = dict[Annotated[str, Strict()], JsonValue]


def _localized_shape(value: object) -> str | dict[str, str]:
    """A text is one string for every locale, or a table locale -> string; which locales, and
    how long, is checked against the show (`overlays.localized_text`)."""
    if isinstance(value, str) or (
        isinstance(value, dict) and all(isinstance(text, str) for text in value.values())
    ):
        return value
    raise PydanticCustomError("localized_text", "must be a text or a table of locales' texts")


LocalizedText = Annotated[str | dict[str, str], PlainValidator(_localized_shape)]
TimeOfDay = Annotated[str, Strict(), StringConstraints(pattern=TIME_OF_DAY_REGEX)]
Locale = Annotated[str, Strict(), StringConstraints(min_length=2, max_length=10)]


@dataclass(frozen=True, slots=True)
class CueTable:
    """One `[[cues]]` table. Without a `number`, a cue is numbered by its place in the list."""

    id: Id
    label: Label
    number: CueNumber = None
    notes: Notes = ""
    pre_wait_ms: Milliseconds | None = None
    auto_follow_ms: Milliseconds | None = None
    actions: Annotated[tuple[ActionTable, ...], Field(max_length=MAX_ACTIONS_PER_CUE)] = ()


@dataclass(frozen=True, slots=True)
class ShowTable:
    id: Id
    title: Label
    currency: Annotated[str, Strict()]
    locales: Annotated[tuple[Locale, ...], Field(min_length=1, max_length=50)]
    default_locale: Annotated[str, Strict()] | None = None
    timezone: Annotated[str, Strict(), StringConstraints(max_length=64)] = "UTC"
    stream_url: Annotated[str, Strict(), StringConstraints(max_length=2000)] = ""
    window: tuple[TimeOfDay, TimeOfDay] | None = None


@dataclass(frozen=True, slots=True)
class SponsorTable:
    name: Label


@dataclass(frozen=True, slots=True)
class ProductTable:
    sponsor: Id
    price_minor: Annotated[int, bounded_int(1, 10**12)]
    name: LocalizedText  # checked against the show's locales by `showfile.py`
    stock: Annotated[int, bounded_int(0, 10**9)] = 0
    per_viewer_limit: Annotated[int, bounded_int(1, 1000)] = 1
    image: Annotated[str, Strict(), StringConstraints(max_length=2000)] = ""
    description: LocalizedText | None = None


@dataclass(frozen=True, slots=True)
class ShowDocument:
    show: ShowTable
    cues: Annotated[tuple[CueTable, ...], Field(min_length=1, max_length=MAX_CUES)]
    sponsors: dict[Id, SponsorTable] = Field(default_factory=dict)
    products: dict[Id, ProductTable] = Field(default_factory=dict)


_DOCUMENT = TypeAdapter(ShowDocument)


class DocumentProblem(ValueError):
    """The first problem of a document: its place and a message naming it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def read_document(raw: object) -> ShowDocument:
    """The document's tables, typed; `DocumentProblem` names the first field that is wrong."""
    try:
        return _DOCUMENT.validate_python(raw)
    except ValidationError as error:
        location, message = problems(error)[0]
        if not location:
            raise DocumentProblem("a show file must be a table") from None
        raise DocumentProblem(message) from None

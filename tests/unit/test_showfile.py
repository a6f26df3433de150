"""Show files: the demo loads; a bad file names its problem and where it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from gala.runofshow.showfile import ShowFileError, load_show_file, parse_show_document
from gala.settings import DEMO_SHOW
from tests.support import show_toml


def test_the_demo_show_is_a_real_run_of_show() -> None:
    show = load_show_file(DEMO_SHOW)
    assert show.title == "11.11 Countdown Gala"
    assert len(show.cues) >= 15
    assert len(show.product_cards) >= 8
    assert len({card["sponsor"]["id"] for card in show.product_cards.values()}) >= 3
    assert set(show.locales) >= {"en", "zh", "ar", "vi", "fr", "id"}
    for card in show.product_cards.values():
        assert type(card["price_minor"]) is int and card["price_minor"] > 0
        assert set(card["name"]) == set(show.locales)
        image = Path(__file__).resolve().parents[2] / "web" / card["image"].lstrip("/")
        assert image.is_file(), image
    does = " ".join(" ".join(cue.summary) for cue in show.cues)
    for kind in ("product", "lower_third", "banner", "countdown", "fullscreen", "until 00:00"):
        assert kind in does
    assert parse_show_document(show.document) == show, "the stored document parses the same"


@pytest.mark.parametrize(
    "change, fragment",
    [
        (('id = "test-show"', 'id = "Bad Id"'), "show.id"),
        (('currency = "CNY"', 'currency = "XXX"'), "show.currency"),
        (('timezone = "Asia/Shanghai"', 'timezone = "Mars/Olympus"'), "time zone"),
        (("price_minor = 12990", "price_minor = 129.9"), "products.widget.price_minor"),
        (('sponsor = "acme"', 'sponsor = "nobody"'), "products.widget.sponsor"),
        (('id = "c02"', 'id = "c01"'), "cues[1].id"),
        (('product = "widget"', 'product = "gadget"'), "cues[2].actions[0]: product.show"),
        (("duration_ms = 60000", "duration_ms = -1"), "cues[3].actions[0]"),
    ],
)
def test_a_bad_show_file_names_the_problem(
    tmp_path: Path, change: tuple[str, str], fragment: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(show_toml().replace(*change, 1))
    with pytest.raises(ShowFileError) as refused:
        load_show_file(str(path))
    assert fragment in refused.value.message
    assert str(path) in refused.value.message


def test_a_file_that_is_not_toml_or_missing_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text("[show\nid=")
    with pytest.raises(ShowFileError, match="not valid TOML"):
        load_show_file(str(path))
    with pytest.raises(ShowFileError, match="cannot read"):
        load_show_file(str(tmp_path / "missing.toml"))


def test_a_show_may_declare_its_window_of_the_day_for_sponsor_bookings(tmp_path: Path) -> None:
    text = show_toml()
    with_window = text.replace(
        'timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai"\nwindow = ["19:30", "00:30"]'
    )
    path = tmp_path / "w.toml"
    path.write_text(with_window, encoding="utf-8")
    show = load_show_file(str(path))
    assert show.window == ("19:30", "00:30")
    assert parse_show_document(show.document) == show
    path.write_text(text.replace('timezone = "Asia/Shanghai"', 'window = ["7pm", "1am"]'))
    with pytest.raises(ShowFileError, match="show.window"):
        load_show_file(str(path))


@pytest.mark.parametrize(
    "number, fragment",
    [
        ("nan", "cues[0].number must be a decimal cue number"),
        ("inf", "cues[0].number must be a decimal cue number"),
        ("6.1", "cues[0].number must be a decimal cue number"),  # a TOML float: 6.10 reads 6.1
        ('"six"', "cues[0].number must be a decimal cue number"),
        ('"1234567"', "cues[0].number must be a decimal cue number"),
        ("{ a = 1 }", "cues[0].number must be a decimal cue number"),
    ],
)
def test_a_cue_number_is_a_bounded_decimal(tmp_path: Path, number: str, fragment: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(show_toml().replace('number = "1"', f"number = {number}", 1))
    with pytest.raises(ShowFileError) as refused:
        load_show_file(str(path))
    assert fragment in refused.value.message


def test_cue_numbers_as_show_files_write_them_and_labels_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    text = show_toml().replace('number = "1"', "number = 7", 1)
    path.write_text(text.replace('number = "3"', 'number = "6.25"', 1))
    numbers = [cue.number for cue in load_show_file(str(path)).cues]
    assert numbers[:3] == ["7", "2", "6.25"]
    path.write_text(show_toml().replace('label = "Cue 1"', f'label = "{"x" * 201}"', 1))
    with pytest.raises(ShowFileError, match=r"cues\[0\]\.label must have at most 200"):
        load_show_file(str(path))
    path.write_text(show_toml().replace('label = "Cue 1"', 'label = "  "', 1))
    with pytest.raises(ShowFileError, match=r"cues\[0\]\.label must be a non-empty string"):
        load_show_file(str(path))

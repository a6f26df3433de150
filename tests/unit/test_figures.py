"""The live figures of a show: the GMV is the sum of the paid orders of every sale the log's
epoch opened, so it never decreases when an encore opens a product's sale again; a product's
figures are its current sale's; the consoles get each product's name."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from commerce import sale as sl
from commerce import show_sales
from commerce.figures import ShowFigures, figures_of, gmv_of, just_bought
from commerce.ports import SaleCounts
from commerce.show_sales import OpenSale, SalesBoard, fold
from gala.kernel.showlog import LoggedEvent
from gala.runofshow.showfile import load_show_file
from gala.runofshow.snapshot import fold_all

SHOW = "gala"
NAME = {"en": "Widget", "fr": "Gadget"}
DEMO = Path(__file__).parents[2] / "gala" / "shows" / "countdown_gala_1111.toml"


def opening(product: str, price_minor: int, stock: int = 300) -> OpenSale:
    return OpenSale(product, "acme", price_minor, "CNY", stock, 2, None, 60_000, NAME)


def opened(board: SalesBoard, action: OpenSale, at_ms: int) -> SalesBoard:
    for event in show_sales.events_for(SHOW, action, at_ms):
        board = fold(board, event.type, event.data)
    return board


def counts_of(stock: int, sold: int, held: int = 0) -> SaleCounts:
    return SaleCounts(sl.OPEN, stock - sold - held, held, sold)


def test_an_encore_keeps_the_earlier_sale_and_makes_the_new_one_current() -> None:
    board = opened(SalesBoard(), opening("widget", 399_900), 1_000)
    first = board.sales["widget"]
    board = opened(board, opening("widget", 399_900), 9_000)
    current = board.sales["widget"]
    assert current.sale_id != first.sale_id
    assert board.earlier == (first,)
    assert [s.sale_id for s in board.every_sale()] == [first.sale_id, current.sale_id]
    assert board.as_wire() == {"widget": current.as_wire()}, "viewers see the current sale only"


def test_a_sale_opened_again_under_its_own_id_keeps_its_stock_and_counts_once() -> None:
    board = opened(SalesBoard(), opening("widget", 2_599), 1_000)
    sale_id = board.sales["widget"].sale_id
    board = fold(board, show_sales.SALE_CLOSED, {"product_id": "widget"})
    board = opened(board, opening("widget", 2_599), 1_000)  # the same opening, logged again
    assert board.earlier == () and board.sales["widget"].sale_id == sale_id
    assert board.sales["widget"].status == sl.OPEN
    figures = figures_of(board, {sale_id: counts_of(300, 6)})
    assert figures.gmv_minor == 6 * 2_599 and figures.products["widget"]["left"] == 294


def test_gmv_never_decreases_across_a_re_reveal() -> None:
    board = opened(SalesBoard(), opening("aurora", 399_900), 1_000)
    board = opened(board, opening("tea", 1_776), 2_000)
    first, tea = board.sales["aurora"].sale_id, board.sales["tea"].sale_id
    counts = {first: counts_of(300, 6), tea: counts_of(100, 1)}
    before = figures_of(board, counts)
    assert before.gmv_minor == 6 * 399_900 + 1_776

    board = opened(board, opening("aurora", 399_900), 9_000)  # the encore
    encore = board.sales["aurora"].sale_id
    counts[encore] = counts_of(300, 0)
    after = figures_of(board, counts)
    assert after.gmv_minor == before.gmv_minor == 2_401_176
    assert after.products["aurora"] == {
        "sale_id": encore,
        "left": 300,
        "held": 0,
        "sold": 0,
        "sold_out": False,
    }, "a product's figures are its current sale's own"

    counts[encore] = counts_of(300, 2, held=1)
    later = figures_of(board, counts)
    assert later.gmv_minor == after.gmv_minor + 2 * 399_900
    assert later.products["aurora"]["left"] == 297
    assert just_bought(after, later) == {"aurora": 2}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.integers(1, 500_000),
            st.lists(st.integers(1, 2), max_size=6),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_gmv_is_the_sum_of_paid_orders_of_every_sale_and_never_decreases(
    openings: list[tuple[str, int, list[int]]],
) -> None:
    """Each opening of a product sells some paid orders; after each step the GMV equals the sum
    of every paid order so far, and never goes down."""
    board, counts, paid_minor, last_gmv = SalesBoard(), {}, 0, 0
    for step, (product, price, orders) in enumerate(openings):
        board = opened(board, opening(product, price, stock=20), 1_000 * (step + 1))
        sale = board.sales[product]
        counts[sale.sale_id] = counts_of(20, 0)
        assert figures_of(board, counts).gmv_minor >= last_gmv
        for quantity in orders:
            sold = counts[sale.sale_id].sold + quantity
            counts[sale.sale_id] = counts_of(20, sold)
            paid_minor += sl.amount_minor(sale.terms, quantity)
            gmv = figures_of(board, counts).gmv_minor
            assert gmv >= last_gmv
            last_gmv = gmv
        assert gmv_of(board, counts) == paid_minor


def test_a_sale_without_counters_counts_for_nothing() -> None:
    board = opened(SalesBoard(), opening("widget", 100), 1_000)
    assert figures_of(board, {}) == ShowFigures({}, 0, {})


def test_console_figures_carry_the_product_name_and_viewer_figures_do_not() -> None:
    board = opened(SalesBoard(), opening("widget", 100), 1_000)
    figures = figures_of(board, {board.sales["widget"].sale_id: counts_of(5, 1)})
    assert figures.as_wire(names=True)["products"]["widget"]["name"] == NAME
    assert "name" not in figures.as_wire()["products"]["widget"]
    assert figures.as_wire()["gmv_minor"] == figures.as_wire(names=True)["gmv_minor"] == 100


def test_a_sale_opened_without_a_name_reads_as_no_name() -> None:
    event = show_sales.events_for(SHOW, opening("widget", 100), 1_000)[0]
    data = {key: value for key, value in event.data.items() if key != "name"}
    assert show_sales.announced_sale(data).name == {}


def test_the_demo_shows_encore_opens_a_second_sale_whose_predecessor_still_counts() -> None:
    show = load_show_file(str(DEMO))
    events: list[LoggedEvent] = []
    at_ms = 1_000
    for cue in show.cues:
        for action in cue.actions:
            if isinstance(action, OpenSale):
                for new in show_sales.events_for(show.id, action, at_ms):
                    events.append(
                        LoggedEvent(len(events) + 1, "e1", new.type, new.program_time_ms, new.data)
                    )
        at_ms += 1_000
    board = fold_all(show.id, "e1", events).sales
    aurora = [s for s in board.every_sale() if s.product_id == "aurora-x5"]
    assert len(aurora) == 2, "the encore opens the product's sale again"
    assert board.sales["aurora-x5"] == aurora[-1]
    assert aurora[0].name["en"] == "Aurora X5 Smartphone"
    counts = {sale.sale_id: counts_of(sale.stock, 0) for sale in board.every_sale()}
    counts[aurora[0].sale_id] = counts_of(300, 6)
    assert figures_of(board, counts).gmv_minor == 6 * 399_900

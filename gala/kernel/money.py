"""Money: integer minor units with a currency, never floats. Amounts travel as `*_minor` ints
next to a currency code; this module holds the currencies a show may settle in and their
exponents. Display formatting belongs to the viewer's locale (the browser's Intl.NumberFormat);
`plain_amount` is the locale-free form the console's cue summaries use ("CNY 8.88").
"""

from __future__ import annotations

# ISO 4217 exponents for the currencies a show may settle in; anything else is refused at load.
CURRENCY_EXPONENTS: dict[str, int] = {
    "CNY": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "SGD": 2,
    "MYR": 2,
    "THB": 2,
    "IDR": 2,
    "VND": 0,
    "JPY": 0,
    "KRW": 0,
    "AED": 2,
    "SAR": 2,
}


def plain_amount(minor: int, currency: str) -> str:
    """`minor` in the currency's major unit with its code, exact (no float): "CNY 3,999.00"."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    sign = "-" if minor < 0 else ""
    major, fraction = divmod(abs(minor), 10**exponent)
    decimals = f".{fraction:0{exponent}d}" if exponent else ""
    return f"{currency} {sign}{major:,}{decimals}"

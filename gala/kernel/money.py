"""Money: integer minor units with a currency. Never floats.

Display formatting belongs to the viewer's locale (the browser's Intl.NumberFormat); the server
only carries `(amount_minor, currency)` and the currency's exponent.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Money:
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount_minor) is not int:
            raise TypeError("amount_minor must be an int")
        if self.currency not in CURRENCY_EXPONENTS:
            raise ValueError(f"unsupported currency {self.currency!r}")

    def as_dict(self) -> dict[str, object]:
        return {"amount_minor": self.amount_minor, "currency": self.currency}

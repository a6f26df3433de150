"""Commerce refusals by stable code, so a store adapter can raise the same error the pure rules
would (`refusal(code, message)`)."""

from __future__ import annotations

from gala.kernel.errors import GalaError, NotFound
from gala.kernel.ledger import InsufficientFunds

from . import sale


class UnknownSale(NotFound):
    code = "unknown_sale"


_BY_CODE: dict[str, type[GalaError]] = {
    cls.code: cls
    for cls in (
        sale.SaleNotOpen,
        sale.SaleClosed,
        sale.SoldOut,
        sale.NotEnoughStock,
        sale.LimitReached,
        sale.BadQuantity,
        sale.KeyReused,
        sale.HoldExpired,
        sale.UnknownOrder,
        UnknownSale,
        InsufficientFunds,
    )
}


def refusal(code: str, message: str) -> GalaError:
    return _BY_CODE.get(code, GalaError)(message, code=code)

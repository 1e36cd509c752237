"""E-commerce "Order Completed" (and v1 "Completed Order") facts, in either casing."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

ORDER_EVENTS = frozenset({"order completed", "completed order"})


def is_order_event(name: str) -> bool:
    return name.strip().lower() in ORDER_EVENTS


@dataclass(frozen=True, slots=True)
class OrderFacts:
    order_id: str | None
    checkout_id: str | None
    total: float | None
    revenue: float | None
    subtotal: float | None
    shipping: float | None
    tax: float | None
    discount: float | None
    currency: str | None
    coupon: str | None
    products: list[dict[str, Any]]


#: The facts' names, in order: also the order columns that hold them.
ORDER_FIELDS = tuple(f.name for f in fields(OrderFacts))


def _first(props: dict[str, Any], *names: str) -> Any:
    for name in names:
        if props.get(name) is not None:
            return props[name]
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _string(value: Any, limit: int = 255) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text[:limit] or None
    return None


def _product(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    product = dict(raw)
    # v1 names products by `id`; v2 by `product_id`. Keep both spellings readable.
    if "product_id" not in product and "id" in product:
        product["product_id"] = product["id"]
    if "image_url" not in product and "imageUrl" in product:
        product["image_url"] = product["imageUrl"]
    return product


def order_facts(props: dict[str, Any]) -> OrderFacts:
    products = props.get("products")
    items = [p for p in map(_product, products) if p] if isinstance(products, list) else []
    total = _number(_first(props, "total"))
    revenue = _number(_first(props, "revenue"))
    return OrderFacts(
        order_id=_string(_first(props, "order_id", "orderId")),
        checkout_id=_string(_first(props, "checkout_id", "checkoutId")),
        # Senders put the amount in `total` only or in `revenue` only: each fills the other.
        total=total if total is not None else revenue,
        revenue=revenue if revenue is not None else total,
        subtotal=_number(_first(props, "subtotal")),
        shipping=_number(_first(props, "shipping")),
        tax=_number(_first(props, "tax")),
        discount=_number(_first(props, "discount")),
        currency=_string(_first(props, "currency"), 16),
        coupon=_string(_first(props, "coupon")),
        products=items,
    )

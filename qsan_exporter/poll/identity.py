"""Which array this is: model, serial and product, from the system area's answer.

The product decides how collectors read some fields (a NAS reports "always 0" ones; SPEC §2),
so it is detected from the model unless the config names it.
"""

from __future__ import annotations

from typing import Any

from qsan_exporter.api.readers import field, text
from qsan_exporter.collectors.system import enclosure_info, enclosure_list
from qsan_exporter.config import ArrayConfig
from qsan_exporter.snapshot import Identity

_PRODUCT_BY_PREFIX = {"XS": "san", "XF": "fas", "XN": "nas"}


def product_from_model(model: str) -> str | None:
    """SPEC §2: XS… san, XF… fas, XN… nas."""
    return _PRODUCT_BY_PREFIX.get(model.strip()[:2].upper())


def identify(system_raw: Any) -> tuple[str, str]:
    """Model and serial of the array: those of its local enclosure (the first listed)."""
    try:  # every shape the system collector reads (readings `enclosures-top-level`, ...)
        enclosures = enclosure_list(system_raw)
    except (TypeError, ValueError):
        return "", ""  # identity is best effort: a malformed list must not fail the poll
    for enclosure in enclosures:
        info = enclosure_info(enclosure)
        model = field(info, "modelName")
        if model:
            return text(model), text(field(info, "serialNumber", default=""))
    return "", ""


def updated_identity(previous: Identity | None, system_raw: Any, config: ArrayConfig,
                     source_api: str | None) -> Identity | None:
    """The identity after a poll that fetched `system_raw` (None: the area was not fetched).

    A system answer without a model keeps the identity already known. `source_api` is the
    flavour the source speaks (`api: auto` decides at run time); None falls back to the config.
    """
    if system_raw is None:
        return previous
    model, serial = identify(system_raw)
    if not model and previous is not None:
        return previous
    api = source_api or ("legacy" if config.api == "legacy" else "unified")
    product = config.product
    if product == "auto":
        product = product_from_model(model) or "unknown"
    return Identity(api=api, product=product, model=model, serial=serial)


def product_of(config: ArrayConfig, identity: Identity | None) -> str:
    """The product the collectors read the answers as: the config's, else the detected one."""
    if config.product != "auto":
        return config.product
    return identity.product if identity else "unknown"

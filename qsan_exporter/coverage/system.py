"""Coverage rows of the system area (placeholder: the rows of this area are written elsewhere)."""

from __future__ import annotations

from qsan_exporter.coverage import Field

ROWS: tuple[Field, ...] = ()

"""Pure translation of one poll's raw API answers into metric families, one module per area."""

"""The exposition formats' escaping and number formatting, written once, byte for byte as
prometheus_client 0.26 writes them (tests/test_render_bytes.py holds it to that).

Both formats escape a label value the same way (backslash, newline and double quote; a bare
"\\r" stays as it is) and write a sample the same way, so a family's sample lines are one
string for both. They differ in the header: the text format names a counter's HELP and TYPE
`x_total` and leaves `"` in help text alone; OpenMetrics names them `x` and escapes `"`.
Names come from the catalogue and the config, both checked to be legacy Prometheus names,
which both formats write unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter

_SPECIAL = {"inf": "+Inf", "-inf": "-Inf", "nan": "NaN"}


def _needs_escaping(text: str) -> bool:
    return "\\" in text or "\n" in text or '"' in text


def label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def number(value: float) -> str:
    """prometheus_client's `floatToGoString`: Python's repr, but Go's exponent from 1e7 up and
    Go's spelling of infinities and NaN (the only reprs without a dot or an exponent)."""
    s = repr(value)
    dot = s.find(".")
    if dot > 6 and value > 0:
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return _SPECIAL.get(s, s) if dot < 0 else s


def text_name(name: str, kind: str) -> str:
    """A catalogue family's name in the text format, which its samples carry in both formats:
    a counter's always ends in _total (OpenMetrics names the family without it)."""
    return name.removesuffix("_total") + "_total" if kind == "counter" else name


@functools.lru_cache(maxsize=1024)
def headers(name: str, kind: str, help_text: str) -> tuple[bytes, bytes]:
    """The HELP and TYPE lines in the text format and in OpenMetrics; one object when equal."""
    base = name.removesuffix("_total") if kind == "counter" else name
    text_help = help_text.replace("\\", "\\\\").replace("\n", "\\n")
    om_help = text_help.replace('"', '\\"')
    named = text_name(name, kind)
    text = f"# HELP {named} {text_help}\n# TYPE {named} {kind}\n".encode()
    om = f"# HELP {base} {om_help}\n# TYPE {base} {kind}\n".encode()
    return text, text if om == text else om


def const_parts(const: Mapping[str, str]) -> dict[str, str]:
    """A builder's constant labels, each written once as `name="value"` (for sample_format)."""
    return {k: _percents(f'{k}="{label_value(v)}"') for k, v in const.items()}


def sample_format(name: str, const: Mapping[str, str], variable: Sequence[str]) -> str:
    """A printf-style template of one sample line (`%` is the quickest of Python's string
    formatting): the variable label values (escaped) fill its `%s` in name order (see
    `in_name_order`), the value the last; `const` is from const_parts. Labels are in name
    order, as prometheus_client writes them; a variable label shadows a constant one of the
    same name, as in its label dict."""
    where = dict(const)
    for label in variable:
        where[label] = f'{label}="%s"'
    labels = ",".join([where[k] for k in sorted(where)])
    return f"{name}{{{labels}}} %s\n" if labels else f"{name} %s\n"


@functools.lru_cache(maxsize=1024)
def in_name_order(variable: tuple[str, ...]) -> Callable[[tuple[str, ...]], tuple[str, ...]] | None:
    """What puts a sample's label values (in `variable`'s order) in the template's order: None
    when that is already so."""
    order = sorted(range(len(variable)), key=variable.__getitem__)
    if order == list(range(len(variable))):
        return None
    return itemgetter(*order)


def sample_lines(template: str, samples: Mapping[tuple[str, ...], float],
                 order: Callable[[tuple[str, ...]], tuple[str, ...]] | None = None) -> bytes:
    """Samples (label values -> value) as exposition lines; `order` from `in_name_order`."""
    numbers = [_number(value) for value in samples.values()]
    values: Iterable[tuple[str, ...]] = samples if order is None else map(order, samples)
    # Label values rarely hold a character to escape: one scan of them all spares escaping
    # each value apart.
    if _needs_escaping("".join(map("".join, samples))):
        values = [tuple(map(label_value, v)) for v in values]
    return "".join([template % (*v, n) for v, n in zip(values, numbers, strict=True)]).encode()


# Numbers written before: sizes, rates and the 1 of every info series come back each poll.
# Only floats, and never zero (0.0 and -0.0 are one key but two spellings). Cleared when full.
_NUMBERS: dict[float, str] = {}
_NUMBERS_SIZE = 4096


def _number(value: float) -> str:
    if type(value) is not float or not value:  # 1 and 1.0 are one key but two spellings
        return number(value)
    written = _NUMBERS.get(value)
    if written is None:
        written = number(value)
        if len(_NUMBERS) >= _NUMBERS_SIZE:
            _NUMBERS.clear()
        _NUMBERS[value] = written
    return written


def _percents(text: str) -> str:
    return text.replace("%", "%%")

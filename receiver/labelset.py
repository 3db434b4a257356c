"""Label-set rules of the remote-write specification, and the series id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import xxhash

from aidevops.errors import DecodeError

__all__ = ["LabelLimits", "describe", "series_id", "validate"]

_SEP = b"\xff"


@dataclass(frozen=True, slots=True)
class LabelLimits:
    """Receiver-side limits the specification leaves to each receiver."""

    max_labels: int = 64
    max_name_bytes: int = 256
    max_value_bytes: int = 2048


def series_id(tenant: str, labels: Sequence[tuple[str, str]]) -> int:
    """Stable 64-bit id of a tenant's series: xxh64 of ``tenant 0xff name 0xff value 0xff ...``.

    A series is its tenant plus its labels: the same labels of two tenants are two series,
    with two ids, two detectors and (most likely) two partitions. After the tenant, the
    bytes are those Prometheus' ``labels.Hash()`` hashes; 0xff never occurs in UTF-8, so
    no tenant and label set can produce the bytes of another.

    >>> hex(series_id("team-a", [("__name__", "up"), ("job", "node")]))
    '0xbdd1711f50f9f42'
    >>> series_id("team-a", [("__name__", "up")]) != series_id("team-b", [("__name__", "up")])
    True
    """
    buf = bytearray(tenant.encode())
    buf += _SEP
    for name, value in labels:
        buf += name.encode()
        buf += _SEP
        buf += value.encode()
        buf += _SEP
    digest: int = xxhash.xxh64_intdigest(bytes(buf))
    return digest


def describe(labels: Sequence[tuple[str, str]], limit: int = 200) -> str:
    """PromQL-style text of a label set for error messages, cut at ``limit`` characters.

    >>> describe([("__name__", "up"), ("job", "node")])
    'up{job="node"}'
    """
    name = next((v for k, v in labels if k == "__name__"), "")
    rest = ", ".join(f'{k}="{v}"' for k, v in labels if k != "__name__")
    text = f"{name}{{{rest}}}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate(labels: Sequence[tuple[str, str]], limits: LabelLimits) -> None:
    """Raise :class:`DecodeError` naming the series if ``labels`` break a rule.

    Rules: at least ``__name__``; names non-empty, strictly increasing (sorted and without
    duplicates); count and byte lengths within ``limits``.

    >>> validate([("__name__", "up"), ("job", "node")], LabelLimits())
    >>> validate([("job", "node"), ("__name__", "up")], LabelLimits())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    aidevops.errors.DecodeError: labels not sorted by name ('job' before '__name__') ...
    >>> validate([("job", "node")], LabelLimits())
    Traceback (most recent call last):
    ...
    aidevops.errors.DecodeError: missing __name__ label in series {job="node"}
    """
    if len(labels) > limits.max_labels:
        raise DecodeError(
            f"{len(labels)} labels, limit is {limits.max_labels}, in series {describe(labels)}"
        )
    previous = ""
    has_name = False
    for index, (name, value) in enumerate(labels):
        if not name:
            raise DecodeError(f"empty label name in series {describe(labels)}")
        if index and name <= previous:
            what = "duplicate label name" if name == previous else "labels not sorted by name"
            detail = f"{name!r}" if name == previous else f"{previous!r} before {name!r}"
            raise DecodeError(f"{what} ({detail}) in series {describe(labels)}")
        if len(name.encode()) > limits.max_name_bytes:
            raise DecodeError(
                f"label name longer than {limits.max_name_bytes} bytes in series {describe(labels)}"
            )
        if len(value.encode()) > limits.max_value_bytes:
            raise DecodeError(
                f"value of label {name!r} longer than {limits.max_value_bytes} bytes in series "
                f"{describe(labels)}"
            )
        if name == "__name__":
            if not value:
                raise DecodeError(f"empty __name__ label in series {describe(labels)}")
            has_name = True
        previous = name
    if not has_name:
        raise DecodeError(f"missing __name__ label in series {describe(labels)}")

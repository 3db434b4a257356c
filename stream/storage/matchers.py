"""Prometheus label matchers (``=``, ``!=``, ``=~``, ``!~``) for alert routing.

Regular expressions are fully anchored, as in Prometheus: ``job=~"api.*"`` matches ``api-1``
but not ``my-api``. A missing label has the empty value, so ``env!="prod"`` matches a series
without ``env``.

Examples
--------
>>> ms = parse_matchers('{job=~"api.*", env!="dev"}')
>>> [str(m) for m in ms]
['job=~"api.*"', 'env!="dev"']
>>> matches_all(ms, {"job": "api-1"})
True
>>> matches_all(ms, {"job": "my-api"})
False
>>> matches_all(parse_matchers({"job": "node"}), {"job": "node", "instance": "a:9100"})
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aidevops.errors import ConfigurationError

__all__ = ["LabelMatcher", "MatcherSpec", "matches_all", "parse_matcher", "parse_matchers"]

_OPS = ("=~", "!~", "!=", "=")
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')

MatcherSpec = str | Mapping[str, str] | Iterable[str]
"""A selector string ``{a="b", c=~"d.*"}``, a ``{name: value}`` dict of equalities, or a list
of single matchers."""


@dataclass(frozen=True)
class LabelMatcher:
    """One matcher: ``name op "value"``."""

    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ConfigurationError(f"unknown matcher operator {self.op!r}")
        if self.op in ("=~", "!~"):
            try:
                object.__setattr__(self, "_regex", re.compile(self.value))
            except re.error as exc:
                raise ConfigurationError(f"bad regex in {self}: {exc}") from exc

    def __str__(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value)}"

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher.

        >>> LabelMatcher("job", "!~", "api|web").matches({"job": "web"})
        False
        """
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(actual) is not None
        return found if self.op == "=~" else not found


def parse_matcher(text: str) -> LabelMatcher:
    """Parse one matcher such as ``job=~"api.*"``.

    >>> parse_matcher('instance!="a:1"')
    LabelMatcher(name='instance', op='!=', value='a:1')
    """
    found = _MATCHER.fullmatch(text.strip())
    if not found:
        raise ConfigurationError(f'bad label matcher {text!r}; expected name=~"value"')
    name, op, raw = found.groups()
    return LabelMatcher(name, op, json.loads(f'"{raw}"'))


def parse_matchers(spec: MatcherSpec) -> tuple[LabelMatcher, ...]:
    """Parse a selector string, an equality dict, or a list of matcher strings."""
    if isinstance(spec, Mapping):
        return tuple(LabelMatcher(str(k), "=", str(v)) for k, v in spec.items())
    if isinstance(spec, str):
        text = spec.strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        out = []
        pos = 0
        while pos < len(text.rstrip()):
            found = _MATCHER.match(text, pos)
            if not found:
                raise ConfigurationError(f"bad label selector {spec!r} at {text[pos:]!r}")
            name, op, raw = found.groups()
            out.append(LabelMatcher(name, op, json.loads(f'"{raw}"')))
            pos = found.end()
        return tuple(out)
    return tuple(parse_matcher(s) for s in spec)


def matches_all(matchers: Iterable[LabelMatcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (so no matchers match everything)."""
    return all(m.matches(labels) for m in matchers)

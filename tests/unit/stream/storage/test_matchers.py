from __future__ import annotations

import pytest

from aidevops.errors import AidevopsError
from stream.storage.matchers import matches_all, parse_matchers


@pytest.mark.parametrize(
    ("spec", "labels", "expected"),
    [
        ('{job="node"}', {"job": "node"}, True),
        ('{job!="node"}', {}, True),
        ('{job=~"api.*"}', {"job": "xapi"}, False),
        ('{job=~"api|web"}', {"job": "web"}, True),
        ('{job!~"api.*"}', {"job": "api-7"}, False),
        ('{env=""}', {"job": "x"}, True),
        ('job="a", path=~"/v1/\\\\d+"', {"job": "a", "path": "/v1/42"}, True),
        ({"job": "node", "env": "prod"}, {"job": "node"}, False),
        (['job="a"', 'x!~"b"'], {"job": "a", "x": "c"}, True),
    ],
)
def test_prometheus_semantics(spec: object, labels: dict[str, str], expected: bool) -> None:
    assert matches_all(parse_matchers(spec), labels) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["{job}", "{job=node}", '{job=~"("}', '{1job="x"}'])
def test_bad_selectors_raise_project_errors(bad: str) -> None:
    with pytest.raises(AidevopsError):
        parse_matchers(bad)

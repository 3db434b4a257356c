"""The README's configuration reference lists every setting the services read."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from aidevops.settings import ENV_PREFIX
from cli.main import PROCESS_SETTINGS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize(
    "settings",
    list(PROCESS_SETTINGS.values()),
)
def test_every_environment_variable_is_documented(settings: type[BaseSettings]) -> None:
    missing = [
        ENV_PREFIX + name.upper()
        for name in settings.model_fields
        if f"`{ENV_PREFIX}{name.upper()}`" not in README
    ]
    assert missing == []


def test_readme_opens_with_the_two_setup_commands() -> None:
    block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == [
        "./dev up",
        "./dev test",
    ]

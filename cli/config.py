"""Settings as the command line loads them: errors that name environment variables, and the
endpoints a running ``aidevops up`` recorded, used where the environment says nothing.

Precedence, highest first: command-line options, ``AIDEVOPS_...`` environment variables, the
local stack's record (:mod:`cli.local.record`), the defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from aidevops.errors import ConfigurationError
from aidevops.settings import ENV_PREFIX

__all__ = ["env_var", "load_settings", "settings_error", "settings_help"]

S = TypeVar("S", bound=BaseSettings)
_FIELD_IN_SETTINGS_ERROR = re.compile(r'field "([A-Za-z0-9_]+)"')


def env_var(field: str) -> str:
    """The environment variable of a settings field.

    >>> env_var("receiver_port")
    'AIDEVOPS_RECEIVER_PORT'
    """
    return ENV_PREFIX + field.upper()


def _is_secret(cls: type[BaseSettings], field: str) -> bool:
    info = cls.model_fields.get(field)
    return info is not None and "SecretStr" in repr(info.annotation)


def settings_error(
    cls: type[BaseSettings], exc: ValidationError | SettingsError
) -> ConfigurationError:
    """One line naming the environment variables (not the fields) that ``exc`` is about.

    The value is shown, cut at 80 characters, except for secrets.

    >>> from pydantic_settings import SettingsConfigDict
    >>> class Demo(BaseSettings):
    ...     model_config = SettingsConfigDict(env_prefix=ENV_PREFIX)
    ...     demo_port: int = 1
    >>> try:
    ...     Demo(demo_port="abc")
    ... except ValidationError as exc:
    ...     print(settings_error(Demo, exc))
    AIDEVOPS_DEMO_PORT='abc': Input should be a valid integer, unable to parse string as an integer
    """
    if isinstance(exc, SettingsError):
        found = _FIELD_IN_SETTINGS_ERROR.search(str(exc))
        name = env_var(found.group(1)) if found else f"{ENV_PREFIX}... ({cls.__name__})"
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        return ConfigurationError(_one_line(f"{name}: cannot read the value{cause}"))
    parts = []
    for error in exc.errors(include_url=False):
        loc = error.get("loc") or ()
        field = str(loc[0]) if loc else ""
        known = field in cls.model_fields
        name = env_var(field) if known else f"{ENV_PREFIX}... ({cls.__name__})"
        shown = ""
        if known and not _is_secret(cls, field) and "input" in error:
            value: Any = error["input"]
            shown = "=" + repr(value[:80] if isinstance(value, str) else value)
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{name}{shown}: {message}")
    return ConfigurationError(_one_line("; ".join(parts)))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def load_settings(cls: type[S], recorded: Mapping[str, str] | None = None, **overrides: Any) -> S:
    """``cls`` from the environment, ``recorded`` values and command-line ``overrides``.

    ``recorded`` maps environment variable names to values (what ``aidevops up`` wrote);
    each is used only for a field of ``cls`` whose variable the environment leaves unset,
    which :func:`cli.local.record.defaults_for` already decided.

    Raises
    ------
    ConfigurationError
        A value does not validate: one line naming ``AIDEVOPS_...``, not the field.
    """
    kwargs: dict[str, Any] = {}
    for name, value in (recorded or {}).items():
        field = name.removeprefix(ENV_PREFIX).lower()
        if name.startswith(ENV_PREFIX) and field in cls.model_fields:
            kwargs[field] = value
    kwargs.update(overrides)
    try:
        return cls(**kwargs)
    except (ValidationError, SettingsError) as exc:
        raise settings_error(cls, exc) from None


def settings_help(
    classes: tuple[type[BaseSettings], ...], excluded: frozenset[str] = frozenset()
) -> str:
    """The environment variables that ``classes`` read, less the fields in ``excluded``
    (which the command sets itself), for a command's ``--help``."""
    if not classes:
        return "environment: this command reads no AIDEVOPS_ variable"
    lines = ["environment (the AIDEVOPS_ variables this command reads):"]
    seen: set[str] = set(excluded)
    for cls in classes:
        for name, info in cls.model_fields.items():
            if name in seen:
                continue
            seen.add(name)
            value = info.get_default(call_default_factory=True)
            default = f" [default: {value}]" if value not in (None, "", {}) else ""
            lines.append(f"  {env_var(name):<44}{info.description or ''}{default}")
    return "\n".join(lines)

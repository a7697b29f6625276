"""Settings problems said in one line each, naming the setting as the operator wrote
it (the environment variable, or the YAML file and key) and what is wrong."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from pydantic import ValidationError

# Values of these settings are never repeated back: they are credentials.
_SECRET_WORDS = ("password", "api_key", "token")


class SettingsError(ValueError):
    """One or more settings are wrong; each line of the message names one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _nearest(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def unknown_names(environ: Mapping[str, str], known: Collection[str]) -> list[str]:
    """VIGIE_* variables no setting reads: a typo would otherwise be silently ignored."""
    return [
        f"{name} is not a setting{_nearest(name, known) or ' (see the README, Settings)'}"
        for name in sorted(environ)
        if name.startswith("VIGIE_") and name not in known
    ]


def unparsable(error: Exception, env_name: Callable[[str], str]) -> str:
    """pydantic-settings' "error parsing value for field "x" from source "EnvSettingsSource""
    (a dict or list setting whose value is not JSON), said with the variable's name."""
    found = re.search(r'field "(\w+)"', str(error))
    if found is None:
        return " ".join(str(error).split())
    return f"{env_name(found.group(1))}: not valid JSON (a mapping or list is expected)"


def _value(field: str, given: object) -> str:
    if any(word in field for word in _SECRET_WORDS):
        return ""
    shown = repr(given)
    return f" (got {shown[:80]}{'…' if len(shown) > 80 else ''})"


def explain(
    error: ValidationError,
    environ: Mapping[str, str],
    yaml_file: Path,
    env_names: Mapping[str, str],
) -> list[str]:
    """One line per problem of a Settings validation. `env_names` maps each field to
    its environment variable; a value set there is named by it, else by the file."""
    by_alias = {name.lower(): field for field, name in env_names.items()}
    lines = []
    for problem in error.errors(include_url=False):
        if problem["type"] == "default_factory_not_called":
            continue  # a default made from another setting, which is itself named
        location = [str(part) for part in problem["loc"]]
        key = location[0] if location else ""
        field = key if key in env_names else by_alias.get(key.lower(), key)
        where = ".".join([field, *location[1:]])
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            lines.append(f"{yaml_file}: {key}: not a setting{_nearest(key, list(env_names))}")
        elif field in env_names and env_names[field] in environ:
            lines.append(f"{env_names[field]}: {message}{_value(field, problem['input'])}")
        else:
            lines.append(f"{yaml_file}: {where}: {message}{_value(field, problem['input'])}")
    return lines

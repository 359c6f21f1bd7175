"""Posting configuration: declared settings, the config file, the learner map.

Every destination declares its settings as :class:`Setting` rows (name, one
line of meaning, default, environment variable, whether it is a secret).  A
value comes from, in order: the command line or the library call (never for
a secret), the environment, the config file's ``[NAME]`` table, the default.
The config file is TOML and must be readable by its owner only, since it may
hold secrets; an unknown table or key is an error naming it and the file.
"""
from __future__ import annotations

import csv
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import DestinationConfigError
from .secrets import Redactor, Secret, check_private_file

CONFIG_ENV = "GRADER_POST_CONFIG"
LEARNERS_ENV = "GRADER_LEARNERS"
DEFAULT_CONFIG = Path("~/.config/grader/post.toml")


@dataclass(frozen=True)
class Setting:
    """One setting of a destination (or of the retry policy)."""

    name: str
    doc: str
    default: Any = None
    env: str | None = None
    secret: bool = False
    type: type = str              # str, float, int or dict (a TOML table)


@dataclass
class ConfigFile:
    """The parsed config file (or an empty one when there is none)."""

    path: Path | None = None
    tables: dict[str, dict] = field(default_factory=dict)

    def table(self, name: str) -> dict:
        return self.tables.get(name, {})

    def check_tables(self, known: list[str]) -> None:
        """Reject a table that no destination (and not ``retry``) defines."""
        for name in self.tables:
            if name not in known:
                raise DestinationConfigError(
                    f"unknown table [{name}]; known tables: {', '.join(sorted(known))}",
                    path=str(self.path))


def load_config(path: str | Path | None = None) -> ConfigFile:
    """Read the posting config file: ``path``, else ``$GRADER_POST_CONFIG``, else
    ``~/.config/grader/post.toml`` when it exists; no file at all is an empty config."""
    explicit = path or os.environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit).expanduser()
    else:
        path = DEFAULT_CONFIG.expanduser()
        if not path.exists():
            return ConfigFile()
    check_private_file(path, what="config file")
    try:
        with open(path, "rb") as handle:
            tables = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message quotes no values, only positions.
        raise DestinationConfigError(f"not valid TOML: {exc}", path=str(path)) from None
    for name, value in tables.items():
        if not isinstance(value, dict):
            raise DestinationConfigError("settings belong in tables such as [webhook]",
                                         path=str(path), field=name)
    return ConfigFile(path=path, tables=tables)


def resolve(settings: tuple[Setting, ...], *, table: str, config: ConfigFile,
            overrides: dict | None = None, redactor: Redactor | None = None) -> dict[str, Any]:
    """Values for ``settings`` from overrides, environment, ``config[table]`` and defaults.

    Secrets are wrapped in :class:`Secret` and registered with ``redactor``.
    """
    declared = {s.name: s for s in settings}
    for key in overrides or {}:
        if key not in declared:
            raise DestinationConfigError(
                f"{table} has no setting {key!r}; its settings: {', '.join(declared)}")
    from_file = config.table(table)
    for key in from_file:
        if key not in declared:
            raise DestinationConfigError(
                f"unknown key {key!r}; known keys: {', '.join(sorted(declared))}",
                path=str(config.path), field=f"{table}.{key}")
    values: dict[str, Any] = {}
    for setting in settings:
        value, source = None, ""
        override = (overrides or {}).get(setting.name)
        if override is not None and not setting.secret:
            value, source = override, "command line"
        elif setting.env and os.environ.get(setting.env):
            value, source = os.environ[setting.env], f"${setting.env}"
        elif setting.name in from_file:
            value, source = from_file[setting.name], f"{config.path} [{table}] {setting.name}"
        else:
            value = setting.default
        if value is not None:
            value = _typed(setting, value, source, config)
        if setting.secret and value is not None:
            value = _as_secret(value, source, redactor)
        values[setting.name] = value
    return values


def _typed(setting: Setting, value: Any, source: str, config: ConfigFile) -> Any:
    if setting.type is dict:
        if not isinstance(value, dict):
            raise DestinationConfigError(f"expected a table, got {type(value).__name__}",
                                         path=str(config.path), field=setting.name)
        return {str(k): str(v) for k, v in value.items()}
    try:
        return setting.type(value)
    except (TypeError, ValueError):
        # The value is not quoted: it may be a secret typed in the wrong place.
        raise DestinationConfigError(f"expected {setting.type.__name__} (from {source})",
                                     field=setting.name) from None


def _as_secret(value: Any, source: str, redactor: Redactor | None):
    if isinstance(value, dict):
        secrets = {k: Secret(v, source=f"{source}.{k}") for k, v in value.items()}
        for secret in secrets.values():
            if redactor:
                redactor.add(secret)
        return secrets
    secret = Secret(str(value), source=source)
    if redactor:
        redactor.add(secret)
    return secret


# --- the learner map -----------------------------------------------------------------------

@dataclass(frozen=True)
class Identity:
    """Who a learner id is on the platforms: email (course platform), user id (LMS)."""

    learner: str
    email: str = ""
    lms_user_id: str = ""


LEARNER_COLUMNS = ("learner", "email", "lms_user_id")


def load_learners(path: str | Path | None = None) -> dict[str, Identity]:
    """Read the learner map (CSV with columns learner, email, lms_user_id).

    ``path`` defaults to ``$GRADER_LEARNERS``; no file gives an empty map. Other
    columns are ignored; a missing ``learner`` column or a learner listed twice
    is an error naming the file and the line.
    """
    path = path or os.environ.get(LEARNERS_ENV)
    if not path:
        return {}
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheets save a BOM
    except FileNotFoundError:
        raise DestinationConfigError("learners file not found", path=str(path)) from None
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in reader.fieldnames or []]
    if "learner" not in columns:
        raise DestinationConfigError(
            f"the first line must name the columns {', '.join(LEARNER_COLUMNS)} "
            f"(found: {', '.join(columns) or 'nothing'})", path=str(path))
    identities: dict[str, Identity] = {}
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        learner = row.get("learner", "")
        if not learner:
            continue
        if learner in identities:
            raise DestinationConfigError(f"learner {learner!r} is listed twice (line {line})",
                                         path=str(path))
        identities[learner] = Identity(learner=learner, email=row.get("email", ""),
                                       lms_user_id=row.get("lms_user_id", ""))
    return identities

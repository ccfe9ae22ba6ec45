"""One way to check a mapping read from YAML (templates, sweep specs, workflows, cluster profiles).

Every reader of user YAML calls :func:`check_keys` (or :func:`check_fields`, which takes
the allowed keys from a dataclass) so that every message has the same shape::

    unknown key 'linsapce' in axes[0] (file sweep.yaml); allowed keys: linspace, logspace, ... Did you mean 'linspace'?

and :func:`yaml_error` formats a YAML syntax error once, with the file, line and column,
without echoing the file's content.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import NMMError, did_you_mean

__all__ = ["check_file", "check_keys", "check_fields", "field_names", "require_mapping", "yaml_error", "where_text"]


def where_text(where: str, source: str | None = None) -> str:
    """``"in <where>"`` with ``" (file <source>)"`` appended when the source is known."""
    text = f" in {where}" if where else ""
    if source:
        text += f" (file {source})"
    return text


def require_mapping(value: Any, where: str, *, source: str | None = None,
                    error: type[NMMError] = NMMError) -> dict:
    """``value`` as a dict, or an error that says a mapping was expected where."""
    if not isinstance(value, Mapping):
        raise error(f"{where or 'the document'} must be a mapping of keys to values, got "
                    f"{type(value).__name__}{where_text('', source)}.")
    return dict(value)


def check_keys(mapping: Any, allowed: Iterable[str], where: str, *, source: str | None = None,
               error: type[NMMError] = NMMError, hint: str = "", noun: str = "key") -> dict:
    """Check that every key of ``mapping`` is allowed.

    Parameters
    ----------
    mapping : mapping
        What was read from YAML.
    allowed : iterable of str
        The keys that may appear.
    where : str
        The key path of the mapping in its document, e.g. ``'storage'`` or ``'axes[1]'``.
    source : str, optional
        The file the mapping was read from.
    error : NMMError subclass, default: NMMError
        The exception raised.
    hint : str, optional
        Text appended to the message (e.g. where else the key is valid).
    noun : str, default: 'key'
        What the keys are called in the message (``'option'``).

    Returns
    -------
    dict
        The mapping as a dict.

    Raises
    ------
    error
        If ``mapping`` is not a mapping or has a key not in ``allowed``; the message names
        the key, where it is, the allowed keys and the closest spellings.
    """
    d = require_mapping(mapping, where, source=source, error=error)
    allowed = list(allowed)
    unknown = [str(k) for k in d if str(k) not in allowed]
    if unknown:
        bad = sorted(unknown)[0]
        raise error(
            f"unknown {noun} {bad!r}{where_text(where, source)}; allowed {noun}s: {', '.join(sorted(allowed))}."
            + did_you_mean(bad, allowed) + (f" {hint}" if hint else "")
        )
    return d


def field_names(cls: type) -> tuple[str, ...]:
    """The field names of a dataclass, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(cls))


def check_fields(mapping: Any, cls: type, where: str, *, source: str | None = None,
                 error: type[NMMError] = NMMError, extra: Iterable[str] = (), hint: str = "") -> dict:
    """:func:`check_keys` with the allowed keys taken from the fields of dataclass ``cls``
    (plus ``extra``)."""
    return check_keys(mapping, (*field_names(cls), *extra), where, source=source, error=error, hint=hint)


def check_file(path: str | os.PathLike, what: str, *, error: type[NMMError] = NMMError) -> Path:
    """``path`` as a Path, or an error naming it when it is a folder or does not exist."""
    p = Path(path)
    if p.is_dir():
        raise error(f"{what} {str(path)!r} is a folder, not a file; give the YAML file.")
    if not p.is_file():
        raise error(f"{what} {str(path)!r} does not exist.")
    return p


def yaml_error(exc: Exception, source: str, what: str = "file") -> str:
    """A one-line message for a YAML syntax error: the file, line, column and the problem.

    The message never quotes the document beyond the parser's own problem text.
    """
    mark = getattr(exc, "problem_mark", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    named = f"{what} {source!r}" if source else what
    return f"YAML syntax error in {named}{at}: {problem}."

"""One safe way to read YAML that users write (templates, and sweep files through the same calls).

PyYAML's safe loader (libyaml's C version when installed: template loading is several
times faster with it) composes the document into a node graph first; the graph is checked
before any Python object is built:

- aliases: an alias is a second reference to an anchored node, so a few lines can stand
  for billions of nodes (nine levels of nine-fold aliases: 387 million). Code that walks
  or prints the result then runs for minutes and takes gigabytes. The graph's size with
  every alias expanded is computed from the shared nodes (linear in the document) and a
  document that grows by more than :data:`MAX_ALIAS_EXPANSION` nodes, or that refers to
  itself, is refused. Ordinary use, as PyRates' templates do (``*depression_edge``), stays
  far below the limit;
- duplicate keys in a mapping, which PyYAML silently resolves to the last value, are an
  error naming the key and both lines.

Syntax errors are formatted once, by :func:`nmm.validation.yaml_error`: the file, line,
column and the parser's problem, never the document's content.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from .errors import NMMError
from .validation import yaml_error

__all__ = ["MAX_ALIAS_EXPANSION", "load_yaml_file", "load_yaml_text"]

#: the most nodes that alias expansion may add to a document
MAX_ALIAS_EXPANSION = 100_000

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


def load_yaml_file(path: str | os.PathLike, what: str = "template file", *,
                   error: type[NMMError] = NMMError, max_alias_expansion: int | None = None) -> Any:
    """Read one YAML document from a file, safely.

    Parameters
    ----------
    path : str or path-like
    what : str, default: 'template file'
        What the file is, for messages (``"sweep file"``, ``"cluster profile"``).
    error : NMMError subclass, default: NMMError
        The exception raised.
    max_alias_expansion : int, optional
        Overrides :data:`MAX_ALIAS_EXPANSION` for this document.

    Returns
    -------
    object
        The document (None when empty).

    Raises
    ------
    error
        If the file cannot be read, is not valid YAML, defines a key twice in one
        mapping, or expands its aliases past :data:`MAX_ALIAS_EXPANSION` nodes.
    """
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise error(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise error(f"cannot read {what} {str(path)!r}: it is not UTF-8 text ({exc.reason} at byte "
                    f"{exc.start}).") from None
    return load_yaml_text(text, str(path), what=what, error=error, max_alias_expansion=max_alias_expansion)


def load_yaml_text(text: str, source: str, *, what: str = "file",
                   error: type[NMMError] = NMMError, max_alias_expansion: int | None = None) -> Any:
    """Read one YAML document from a string, safely.

    Parameters
    ----------
    text : str
    source : str
        Where the text comes from (a file name), for messages.
    what : str, default: 'file'
        What the text is, for messages.
    error : NMMError subclass, default: NMMError
    max_alias_expansion : int, optional
        Overrides :data:`MAX_ALIAS_EXPANSION` for this document.

    Returns
    -------
    object
        The document (None when empty).

    Raises
    ------
    error
        As :func:`load_yaml_file`.
    """
    loader = _LOADER(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise error(yaml_error(exc, source, what)) from None
        except RecursionError:  # the pure-Python composer on a very deep document
            raise error(f"{what} {source!r} nests its YAML too deeply to be read.") from None
        if node is None:
            return None
        limit = MAX_ALIAS_EXPANSION if max_alias_expansion is None else max_alias_expansion
        _check_graph(node, source, what, error, limit)
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise error(yaml_error(exc, source, what)) from None
    finally:
        loader.dispose()


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _check_graph(root: Node, source: str, what: str, error: type[NMMError], limit: int) -> None:
    """Refuse duplicate keys, recursive aliases and alias expansion past the limit.

    One depth-first pass over the distinct collection nodes: ``size[id]`` is a node's size
    with its aliases expanded, computed once however often the node is referred to
    (scalars count one per occurrence: an alias of a scalar cannot multiply anything).
    """
    if type(root) is ScalarNode:
        return
    in_progress = -1
    size: dict[int, int] = {}
    distinct = 0
    stack: list[tuple[Node, list | None, int]] = [(root, None, 0)]
    while stack:
        node, kids, scalars = stack.pop()
        if kids is not None:  # all children done
            total = 1 + scalars
            for c in kids:
                total += size[id(c)]
            size[id(node)] = total
            distinct += 1 + scalars
            if total - distinct > limit:
                raise error(
                    f"{what} {source!r}: its YAML aliases (*name) expand the node at line {_line(node)} "
                    f"to {total:,} nodes, more than {limit:,} beyond the document's own; refusing an "
                    "alias bomb. Write the repeated parts out or refer to them fewer times."
                )
            continue
        if id(node) in size:
            continue  # a shared node (an alias), already counted
        size[id(node)] = in_progress
        if type(node) is MappingNode:
            children = []
            seen: dict[tuple[str, str], Node] = {}
            for key, value in node.value:
                children.append(key)
                children.append(value)
                if type(key) is ScalarNode and key.tag != _MERGE_TAG:
                    k = (key.tag, key.value)
                    if k in seen:
                        raise error(
                            f"duplicate key {key.value!r} at line {_line(key)} of {what} {source!r}: it is "
                            f"already defined at line {_line(seen[k])} of the same mapping, and YAML would "
                            "silently keep only the last. Remove or rename one."
                        )
                    seen[k] = key
        else:
            children = node.value
        kids = [c for c in children if type(c) is not ScalarNode]
        stack.append((node, kids, len(children) - len(kids)))
        for c in kids:
            state = size.get(id(c))
            if state == in_progress:
                raise error(
                    f"{what} {source!r}: the YAML alias at line {_line(c)} refers to a node that "
                    "contains it (a recursive alias); templates cannot be recursive."
                )
            if state is None:
                stack.append((c, None, 0))

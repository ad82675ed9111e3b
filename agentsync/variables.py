"""Placeholders in project files: ``${var.NAME}``, ``${env.NAME}`` (``${env.NAME:-default}``) and
``${KIND.KEY.id}`` for any kind, resolved per environment, in one place.

- ``var`` reads the selected environment's ``variables`` in agentsync.yaml.
- ``env`` reads the process environment; a value that comes from it is a *secret*: masked in every
  output and never written into a saved plan (the plan keeps the template and a SHA-256 of the value).
- ``KIND.KEY.id`` (``${agent.billing.id}``, ``${tag.vip.id}``) is the remote id of a managed resource;
  it is resolved by the planner (the loader leaves it in place), and by the applier for a resource
  created in the same apply.

``$${`` writes a literal ``${``. Anything else after ``${`` is an error the loader reports with its
location. Nothing here prints or does I/O besides reading the mapping it is given as the environment.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from agentsync import spec
from agentsync.kinds import BY_NAME, Ref

Path = tuple[str | int, ...]

SCOPES: tuple[str, ...] = ("var", "env")
# ``$${`` first, so that an escaped opener is never read as a placeholder.
_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")
_REF = re.compile(r"\$\{([a-z][a-z-]*)\.([A-Za-z0-9_][A-Za-z0-9_./-]*)\.id\}")


class TemplateError(ValueError):
    """A placeholder that cannot be read or resolved; ``message`` is one sentence for a Problem."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Placeholder:
    scope: str
    name: str
    default: str | None = None

    @property
    def is_reference(self) -> bool:
        return self.scope in BY_NAME

    @property
    def text(self) -> str:
        if self.is_reference:
            return f"${{{self.scope}.{self.name}.id}}"
        tail = "" if self.default is None else f":-{self.default}"
        return f"${{{self.scope}.{self.name}{tail}}}"


Part = str | Placeholder


def has_placeholder(text: str) -> bool:
    return "${" in text


def parse(text: str) -> list[Part]:
    """``text`` as literal pieces and placeholders; TemplateError for a malformed or unknown one."""
    parts: list[Part] = []
    last = 0
    for match in _TOKEN.finditer(text):
        parts.append(text[last : match.start()])
        if match.group(0) == "$${":
            parts.append("${")
        elif match.group(1) is None:
            raise TemplateError(
                f"'{text[match.start() : match.start() + 20]}' opens a placeholder that is "
                "never closed; write $${ for a literal ${"
            )
        else:
            parts.append(_placeholder(match.group(1)))
        last = match.end()
    parts.append(text[last:])
    return [p for p in parts if p != ""]


def _placeholder(inner: str) -> Placeholder:
    scope, dot, rest = inner.partition(".")
    if not dot or (scope not in SCOPES and scope not in BY_NAME):
        kinds = ", ".join(sorted(BY_NAME))
        raise TemplateError(
            f"unknown placeholder ${{{inner}}}: placeholders are ${{var.NAME}}, "
            f"${{env.NAME}} or ${{KIND.KEY.id}} (KIND: {kinds})"
        )
    if scope in BY_NAME:
        return _reference(inner, scope, rest)
    name, sep, default = rest.partition(":-")
    if not _NAME.fullmatch(name) or (sep and scope != "env"):
        raise TemplateError(
            f"malformed placeholder ${{{inner}}}: expected ${{{scope}.NAME}}"
            + (" or ${env.NAME:-default}" if scope == "env" else "")
        )
    return Placeholder(scope, name, default if sep else None)


def _reference(inner: str, scope: str, rest: str) -> Placeholder:
    key, dot, attribute = rest.rpartition(".")
    if not dot or attribute != "id" or not _KEY.fullmatch(key):
        raise TemplateError(f"malformed placeholder ${{{inner}}}: expected ${{{scope}.KEY.id}}")
    return Placeholder(scope, key)


# --- resolving ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What placeholders resolve against. ``environ`` None means secrets are not available (an offline
    ``validate``): ``${env.*}`` is then checked by syntax only and left as written."""

    variables: Mapping[str, str]
    environ: Mapping[str, str] | None
    environment: str | None = None


@dataclass(frozen=True)
class Resolved:
    """A string after ``${var.*}``/``${env.*}`` substitution. ``secret``: part of it came from the
    process environment. ``references``: the resources it still refers to (left as placeholders)."""

    value: str
    secret: bool = False
    references: tuple[Ref, ...] = ()
    whole: bool = False


def resolve(text: str, context: Context) -> Resolved:
    """Substitute ``${var.*}`` and ``${env.*}`` in ``text``; references stay as written."""
    parts = parse(text)
    values = [p if isinstance(p, str) else _value(p, context) for p in parts]
    secret = any(isinstance(p, Placeholder) and p.scope == "env" for p in parts)
    references = tuple(Ref(p.scope, p.name) for p in parts if isinstance(p, Placeholder) and p.is_reference)
    whole = len(parts) == 1 and isinstance(parts[0], Placeholder)
    return Resolved(_join(parts, values, bool(references)), secret, references, whole)


def _join(parts: list[Part], values: list[str], templated: bool) -> str:
    # A string that still holds an agent reference is a template again, so every literal ``${`` in it
    # (written as ``$${``, or inside a variable's value) must stay escaped until the reference resolves.
    if not templated:
        return "".join(values)
    return "".join(
        p.text if isinstance(p, Placeholder) and p.is_reference else _escape(v)
        for p, v in zip(parts, values, strict=True)
    )


def _escape(literal: str) -> str:
    return literal.replace("${", "$${")


def escape(text: str) -> str:
    """``text`` written so that it loads back as exactly ``text``: every ``${`` becomes ``$${``."""
    return _escape(text)


def _value(part: Placeholder, context: Context) -> str:
    if part.is_reference:
        return part.text
    if part.scope == "var":
        return _variable(part.name, context)
    if context.environ is None:
        return part.text
    found = context.environ.get(part.name, part.default)
    if found is None:
        raise TemplateError(f"environment variable {part.name} is not set (needed by ${{env.{part.name}}})")
    return found


def _variable(name: str, context: Context) -> str:
    if name in context.variables:
        return context.variables[name]
    if context.environment is None:
        raise TemplateError(
            f"${{var.{name}}} needs an environment: none is selected and agentsync.yaml "
            "has no default_environment (use -e NAME)"
        )
    known = ", ".join(sorted(context.variables)) or "none"
    raise TemplateError(
        f"${{var.{name}}} is not defined in environment '{context.environment}' (its variables: {known})"
    )


def secret_hash(value: str, key: bytes = b"") -> str:
    """The keyed digest a plan keeps of a secret: HMAC-SHA256 under a key derived from the API key
    (:attr:`agentsync.client.Client.digest_key`), so a plan file alone cannot confirm a guess."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def secret_text(value: Any) -> str:
    """The text a secret's hash is taken of: the string itself, or the JSON of a number or boolean
    that a whole ``${env.X}`` became (so ``daily_limit: ${env.LIMIT}`` is concealed like any secret)."""
    return value if isinstance(value, str) else json.dumps(value)


def typed(root: str | None, path: tuple[str | int, ...], text: str) -> Any:
    """``text`` as the number or boolean the schema of ``root`` wants at ``path``, when it reads as one;
    otherwise the text itself. Used for a value that is one whole placeholder."""
    node = spec.schema_at(root, path) if root else None
    kinds = spec.unwrap(node).node.get("type") if node is not None else None
    wanted = set(kinds) if isinstance(kinds, list) else {kinds}
    if "boolean" in wanted and text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind, convert in (("integer", int), ("number", float)):
        if kind in wanted:
            try:
                number = convert(text)
            except ValueError:
                continue
            return (
                int(number) if kind == "number" and float(number).is_integer() and "." not in text else number
            )
    return text


# --- references -----------------------------------------------------------------------------------------


def references_in(value: Any) -> Iterator[Ref]:
    """Every resource ``${KIND.KEY.id}`` names inside ``value`` (any depth), in order."""
    if isinstance(value, str):
        if "${" in value:
            yield from (Ref(k, key) for k, key in _REF.findall(value) if k in BY_NAME)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from references_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from references_in(item)


def substitute_references(value: Any, ids: Mapping[Ref, str]) -> Any:
    """``value`` with every ``${KIND.KEY.id}`` found in ``ids`` replaced by the id; a string left with
    no placeholder has its ``$${`` escapes undone."""
    return _walk_strings(value, lambda text: _substitute(text, ids))


def _substitute(text: str, ids: Mapping[Ref, str]) -> str:
    if "${" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        ref = Ref(match.group(1), match.group(2))
        return ids.get(ref, match.group(0)) if ref.kind in BY_NAME else match.group(0)

    replaced = _REF.sub(one, text)
    if replaced == text:
        return text
    still = any(m.group(1) in BY_NAME for m in _REF.finditer(replaced))
    return replaced if still else replaced.replace("$${", "${")


def _walk_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, Mapping):
        return {k: _walk_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk_strings(v, fn) for v in value]
    return value


def find_cycle(edges: Mapping[Ref, tuple[Ref, ...]]) -> list[Ref] | None:
    """A dependency loop among ``edges`` (key -> keys it needs first) as ``[a, b, a]``, or None."""
    state: dict[Ref, int] = {}
    stack: list[Ref] = []

    def visit(node: Ref) -> list[Ref] | None:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, ()):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (loop := visit(start)) is not None:
            return loop
    return None


# --- paths inside values (secrets are tracked by path) -------------------------------------------------


def value_at(root: Any, path: Path) -> tuple[bool, Any]:
    node = root
    for part in path:
        index_ok = isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node)
        key_ok = isinstance(part, str) and isinstance(node, Mapping) and part in node
        if not (index_ok or key_ok):
            return False, None
        node = node[part]
    return True, node


def replace_at(root: Any, path: Path, fn: Callable[[Any], Any]) -> Any:
    """A copy of ``root`` with the value at ``path`` replaced by ``fn(value)``; unchanged if absent."""
    if not path:
        return fn(root)
    head, rest = path[0], path[1:]
    if isinstance(head, int) and isinstance(root, list) and 0 <= head < len(root):
        return [replace_at(v, rest, fn) if i == head else v for i, v in enumerate(root)]
    if isinstance(head, str) and isinstance(root, Mapping) and head in root:
        return {k: replace_at(v, rest, fn) if k == head else v for k, v in root.items()}
    return root


def pointer_path(pointer: str) -> Path:
    """An RFC 6901 JSON pointer as a path (numeric segments as list indices)."""
    if not pointer:
        return ()
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    return tuple(int(p) if p.isdigit() else p for p in parts)

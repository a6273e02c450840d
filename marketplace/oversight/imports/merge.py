"""ocdsmerge's compiled release, merged straight into a dict (`compile_direct`, below), else with a faster flatten.

ocdsmerge flattens every release into {JSON path: value} before merging; its `flatten` looks each path's
merge rule up by building a tuple of the path's property names at every level and tests every array twice
(`any(...)` over a generator). `CompiledRelease` here is ocdsmerge's own class (same merge, same `asdict()`),
given the same flattened dictionary by `flatten()` below, which walks the merge rules as a tree built once
(one dict lookup per property) and decides an array's strategy in one loop. It keeps ocdsmerge 0.8's
semantics for compiled releases exactly: `omitWhenMerged` fields dropped, `wholeListMerge` arrays, arrays of
anything but objects and scalars stored whole, arrays of objects merged by `id` (an object without one gets a
fresh identifier, so it is appended), empty objects and arrays skipped. ocdsmerge's duplicate-id warnings are
not raised (the importer silences them anyway). tests/oversight/test_ocds_import.py checks the results against
ocdskit's and the fictional example's expected compiled releases, and test_merge_equals_ocdsmerge compares
both flattens on every release of the fixtures.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from ocdsmerge.exceptions import InconsistentTypeError
from ocdsmerge.flatten import IdValue
from ocdsmerge.merge import CompiledRelease as _OcdsCompiledRelease

Rules = dict[tuple[str, ...], str]
# A merge rules tree: property name -> (its rule or None, the tree of its own properties).
Tree = dict[str, tuple[str | None, "Tree"]]
_EMPTY: Tree = {}
OMIT, WHOLE = "omitWhenMerged", "wholeListMerge"


def rules_tree(rules: Rules) -> Tree:
    tree: Tree = {}
    for path, rule in sorted(rules.items(), key=lambda kv: len(kv[0])):
        node = tree
        for i, part in enumerate(path):
            entry = node.get(part)
            last = i == len(path) - 1
            if entry is None:
                entry = node[part] = (rule if last else None, {})
            elif last:
                entry = node[part] = (rule, entry[1])
            node = entry[1]
    return tree




# Types a JSON decoder gives for scalars: stored as they are, without the isinstance() tests of containers.
_SCALARS = frozenset({str, int, float, bool, type(None), Decimal})


def _flatten_object(obj: dict[str, Any], tree: Tree, out: dict[tuple[Any, ...], Any], path: tuple[Any, ...]) -> None:
    for key, value in obj.items():
        entry = tree.get(key)
        if entry is None:
            rule, sub = None, _EMPTY
        else:
            rule, sub = entry
            if rule == OMIT:
                continue
        kind = type(value)
        if kind in _SCALARS:
            out[(*path, key)] = value
        elif kind is dict:
            if rule == WHOLE:
                out[(*path, key)] = value
            elif value:
                _flatten_object(value, sub, out, (*path, key))
        elif kind is list:
            if rule == WHOLE:
                out[(*path, key)] = value
                continue
            for item in value:
                if not isinstance(item, dict):
                    out[(*path, key)] = value  # an array of anything but objects: whole
                    break
            else:
                if value:
                    _flatten_array(value, sub, out, (*path, key))
        elif isinstance(value, (dict, list)):  # subclasses: as ocdsmerge does
            if rule == WHOLE:
                out[(*path, key)] = value
            elif value:
                if isinstance(value, list):
                    if any(not isinstance(item, dict) for item in value):
                        out[(*path, key)] = value
                    else:
                        _flatten_array(value, sub, out, (*path, key))
                else:
                    _flatten_object(value, sub, out, (*path, key))
        else:
            out[(*path, key)] = value


def _flatten_array(items: list[dict[str, Any]], tree: Tree, out: dict[tuple[Any, ...], Any],
                   path: tuple[Any, ...]) -> None:
    for item in items:
        if "id" in item:
            id_value = item["id"]
            key = IdValue(id_value)
        else:
            id_value = None
            key = IdValue(str(uuid.uuid1(1)))
        key.original_value = id_value
        if item:
            _flatten_object(item, tree, out, (*path, key))


def flatten(obj: dict[str, Any], rules: Rules) -> dict[tuple[Any, ...], Any]:
    """ocdsmerge.flatten.flatten(obj, rules, {}, {}) for a compiled release (not versioned)."""
    out: dict[tuple[Any, ...], Any] = {}
    _flatten_object(obj, _tree(rules), out, ())
    return out


_TREES: dict[int, tuple[Rules, Tree]] = {}


def _tree(rules: Rules) -> Tree:
    known = _TREES.get(id(rules))
    if known is not None and known[0] is rules:
        return known[1]
    tree = rules_tree(rules)
    _TREES[id(rules)] = (rules, tree)  # the rules dicts are module-level singletons (domain.merger(), 1.0's)
    return tree


def unflatten(flattened: dict[tuple[Any, ...], Any]) -> dict[str, Any]:
    """ocdsmerge.flatten.unflatten, remembering the nodes on the previous path.

    ocdsmerge walks every path from the root (building a tuple per array item on the way); consecutive paths
    share most of their parts (`awards/<id>/value/amount`, `awards/<id>/value/currency`), and walking a part
    that the previous path walked the same way (same property, or same array item identifier) only looks up
    what exists. So the walk starts below the parts shared with the previous path, from the node it reached
    there, and goes on exactly as ocdsmerge's (same nodes created, same errors)."""
    unflattened: dict[str, Any] = {}
    identifiers: dict[tuple[Any, ...], dict[str, Any]] = {}
    prev_key: tuple[Any, ...] = ()
    nodes: list[Any] = [unflattened]  # nodes[i]: where the previous path was after its first i parts
    for key, value in flattened.items():
        n = len(key)
        limit = len(nodes) - 1
        if n - 1 < limit:
            limit = n - 1
        d = 0
        while d < limit:
            a, b = key[d], prev_key[d]
            if a is not b:
                kind = type(a)
                if kind is not type(b) or a != b or (kind is IdValue and a.identifier != b.identifier):
                    break
            d += 1
        del nodes[d + 1:]
        current_node: Any = nodes[d]
        for end in range(d + 1, n + 1):
            part = key[end - 1]
            if type(part) is IdValue:
                id_path = (*key[:end - 1], part.identifier)
                if id_path not in identifiers:
                    new_node: dict[str, Any] = {}
                    if part.original_value is not None:
                        new_node["id"] = part.original_value
                    identifiers[id_path] = new_node
                    try:
                        current_node.append(new_node)
                    except AttributeError as e:
                        message = ("An earlier release had the object {!r} for /{}, but the current release has an "
                                   "array")
                        raise InconsistentTypeError(message.format(current_node, "/".join(key[:end - 1]))) from e
                current_node = identifiers[id_path]
            elif not isinstance(current_node, dict):
                message = ("An earlier release had the value {!r} for /{}, but the current release has an object "
                           "with a {!r} key")
                raise InconsistentTypeError(message.format(current_node, "/".join(key[:end - 1]), part))
            elif part in current_node:
                current_node = current_node[part]
            elif end < n:
                current_node[part] = [] if type(key[end]) is IdValue else {}
                current_node = current_node[part]
            elif value is not None:
                current_node[part] = value
            if end < n:
                nodes.append(current_node)
        prev_key = key
    return unflattened


class CompiledRelease(_OcdsCompiledRelease):  # type: ignore[misc]
    """ocdsmerge's CompiledRelease, flattening with `flatten()` and unflattening with `unflatten()` above
    (no rule overrides)."""

    def __init__(self, data: dict[str, Any] | None = None, *, merge_rules: Rules) -> None:
        self.merge_rules = merge_rules
        self.rule_overrides: dict[Any, Any] = {}
        self.data = {} if data is None else flatten(data, merge_rules)
        self.data[("tag",)] = ["compiled"]

    def append(self, release: dict[str, Any]) -> None:
        release = release.copy()
        ocid, release_id, date = release.get("ocid"), release.get("id"), release.get("date")
        tag = release.pop("tag", None)
        self.flat_append(flatten(release, self.merge_rules), ocid, release_id, date, tag)

    def asdict(self) -> dict[str, Any]:
        return unflatten(self.data)


# --- the direct merge -------------------------------------------------------------------------------------------

class Irregular(Exception):
    """Data the direct merge leaves to ocdsmerge's flatten and unflatten (see `compile_direct`)."""


_PLAIN = frozenset({str, int, float, bool, Decimal})


def compile_direct(base: dict[str, Any] | None, releases: list[dict[str, Any]], rules: Rules) -> dict[str, Any]:
    """ocdsmerge's compiled release (`CompiledRelease(data=base).extend(releases).asdict()`), merged straight into
    a dict instead of through the flattened {path: value} form: no path tuple is built, and nothing is walked
    but the releases (and the base, once).

    Equal to ocdsmerge's result as a value (object keys in another order: the stored form sorts them; arrays in
    ocdsmerge's order). It follows ocdsmerge: `omitWhenMerged` fields dropped, `wholeListMerge` arrays and arrays
    holding anything but objects replaced whole, arrays of objects merged by `id` (an object without one is
    appended), empty objects and arrays skipped, a null removing the value but keeping (or making) the objects
    and array items on its path, the compiled release's `id`, `date` and `ocid` set from each release in date
    order. `base` is read as ocdsmerge reads it (flattened too). It raises Irregular where ocdsmerge's result
    depends on the order of its flattened paths, and the caller then merges through them: a value whose type
    changes between releases (value, object, or array of objects), ids of one array given both as numbers and as
    text, an id neither text nor an integer, a dict or list subclass."""
    # deferred: ocdsmerge.util imports requests (see domain.merger())
    from ocdsmerge.util import sorted_releases

    tree = _tree(rules)
    compiled: dict[str, Any] = {}
    if base is not None:
        _merge_object(compiled, base, tree)
    compiled["tag"] = ["compiled"]
    for release in sorted_releases(releases):
        if type(release) is not dict:
            raise Irregular("release")
        ocid, date = release.get("ocid"), release.get("date")
        if type(ocid) is not str or type(date) is not str:
            raise Irregular("ocid or date")
        compiled["id"] = f"{ocid}-{date}"
        compiled["date"] = date
        compiled["ocid"] = ocid
        _merge_object(compiled, release, tree)
    return compiled


def _is_value(old: Any, rule: str | None) -> bool:
    """Whether `old`, in a compiled release, is a value (replaced whole) rather than an object or an array of
    objects (merged). An array of objects is never empty there, and a value array holds a non-object."""
    kind = type(old)
    if kind is dict:
        return rule == WHOLE
    if kind is list:
        if rule == WHOLE:
            return True
        return any(type(item) is not dict for item in old)
    return True


def _merge_object(target: dict[str, Any], source: dict[str, Any], tree: Tree) -> bool:
    """Merge `source` into `target`; whether ocdsmerge's flatten gave `source` any path (else an object or
    array item made for it is not kept)."""
    wrote = False
    for key, value in source.items():
        entry = tree.get(key)
        if entry is None:
            rule, sub = None, _EMPTY
        else:
            rule, sub = entry
            if rule == OMIT:
                continue
        kind = type(value)
        if kind in _PLAIN:
            if key in target and not _is_value(target[key], rule):
                raise Irregular(key)
            target[key] = value
            wrote = True
        elif value is None:
            if key in target:
                if not _is_value(target[key], rule):
                    raise Irregular(key)
                del target[key]
            wrote = True
        elif kind is dict:
            if rule == WHOLE:
                if key in target and not _is_value(target[key], rule):
                    raise Irregular(key)
                target[key] = value
                wrote = True
            elif value:
                old = target.get(key)
                if old is None:
                    node: dict[str, Any] = {}
                    if _merge_object(node, value, sub):
                        target[key] = node
                        wrote = True
                elif type(old) is dict:
                    wrote = _merge_object(old, value, sub) or wrote
                else:
                    raise Irregular(key)
        elif kind is list:
            if rule != WHOLE:
                for item in value:
                    if type(item) is not dict:
                        if isinstance(item, dict):
                            raise Irregular(key)
                        break
                else:
                    if value:
                        wrote = _merge_array(target, key, value, sub) or wrote
                    continue
            if key in target and not _is_value(target[key], rule):
                raise Irregular(key)
            target[key] = value
            wrote = True
        else:
            raise Irregular(key)  # a subclass of dict or list, or a type JSON does not give
    return wrote


def _merge_array(target: dict[str, Any], key: str, items: list[dict[str, Any]], tree: Tree) -> bool:
    old = target.get(key)
    if old is None:
        merged: list[dict[str, Any]] = []
    elif type(old) is list and not _is_value(old, None):
        merged = old
    else:
        raise Irregular(key)
    # ocdsmerge matches ids as text and keeps each object's id as first given: "1" and 1 would match in some
    # places and not in others, so ids are text or integers, never both for one text.
    by_id: dict[str, dict[str, Any]] = {}
    for node in merged:
        if "id" in node:
            by_id[str(node["id"])] = node
    wrote = False
    for item in items:
        if "id" in item:
            item_id = item["id"]
            kind = type(item_id)
            if kind is not str and kind is not int:
                raise Irregular(key)
            text = item_id if kind is str else str(item_id)
            found = by_id.get(text)
            if found is None:
                found = by_id[text] = {"id": item_id}
                merged.append(found)
            elif type(found["id"]) is not kind:
                raise Irregular(key)
            _merge_object(found, item, tree)
            wrote = True
        else:
            node = {}
            if _merge_object(node, item, tree):
                merged.append(node)
                wrote = True
    if merged and old is None:
        target[key] = merged
    return wrote

"""Reading OCDS files, streamed: folders, `.gz`, `.zip`, JSON (any package shape) and JSON Lines.

`read(paths)` yields, in file order, an `Item` per release or record found and a `Refusal` per thing that
is not taken (a line that is not JSON, an object that is not OCDS, a file that is not UTF-8), each with where
it was (`file: line 7`, `file: releases[3]`). Nothing here holds more than one item (or one JSON Lines line)
in memory, whatever the file's size:

* JSON Lines (`.jsonl`, `.ndjson`, or a `.json` whose first line is a whole JSON value followed by more) is
  read line by line (msgspec).
* A file of at most WHOLE_MAX bytes is read whole (its package metadata is then known wherever it stands).
* Other JSON is read twice: a first pass over the parser's events (ijson, C backend) until the big array
  (`releases` of a release package, `records` of a record package) starts, which tells the shape and the
  package's `publisher` and `version` given before it; a second pass yields the array's items one at a time.
  A document with no such array is small (a bare release or record) and is read whole.
* Bytes are checked as UTF-8 as they stream (a UTF-8 BOM is dropped, a UTF-16 one honoured); input in
  another encoding is refused with the offset of the first bad byte, unless `encoding` names it (then it is
  decoded, e.g. `iso-8859-1`).
"""

from __future__ import annotations

import codecs
import functools
import gzip
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson
import msgspec

from marketplace.oversight.imports.domain import decode, is_versioned_value

SUFFIXES = (".json", ".jsonl", ".ndjson", ".gz", ".zip")
LINE_SUFFIXES = (".jsonl", ".ndjson")
WHOLE_MAX = 4 << 20  # a file (uncompressed) this size at most is read whole
CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Meta:
    """What a package says about its contents."""

    publisher_name: str = ""
    publisher_uri: str = ""
    publisher_uid: str = ""
    version: str | None = None
    in_package: bool = False


@dataclass(slots=True)
class Item:
    kind: str  # "release" | "record"
    value: Any
    where: str
    meta: Meta


@dataclass(slots=True)
class Refusal:
    where: str
    reason: str


class Position:
    """How far into the file on disk the reader is (compressed bytes for .gz), for a progress bar."""

    def __init__(self) -> None:
        self.raw: Any = None

    def __call__(self) -> int:
        raw = self.raw
        try:
            inner = getattr(raw, "fileobj", None)  # gzip: the compressed file underneath
            return int((inner if inner is not None else raw).tell()) if raw is not None else 0
        except (OSError, ValueError, AttributeError):
            return 0


@dataclass(slots=True)
class FileStart:
    """A file (or archive member) begins; `skipped` when it is not one we read."""

    name: str
    size: int | None
    skipped: str = ""
    position: Position | None = None


class EncodingRefused(Exception):
    pass


class Utf8Stream(io.RawIOBase):
    """The bytes of `raw` as UTF-8: checked when `encoding` is None (refusing with the first bad byte's
    offset), else decoded from `encoding` and re-encoded. A BOM decides UTF-8 or UTF-16."""

    def __init__(self, raw: IO[bytes], encoding: str | None, name: str) -> None:
        self.raw = raw
        self.name = name
        self.offset = 0
        self.pending = b""
        self.started = False
        self.encoding = encoding
        self.decoder: codecs.IncrementalDecoder | None = None
        self.consumed = 0  # compressed bytes read, for progress

    def readable(self) -> bool:
        return True

    def _start(self, chunk: bytes) -> bytes:
        self.started = True
        if chunk.startswith(codecs.BOM_UTF8):
            chunk = chunk[3:]
            self.offset = 3
        elif chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            self.encoding = "utf-16"
        name = self.encoding or "utf-8"
        try:
            self.decoder = codecs.getincrementaldecoder(name)(errors="strict")
        except LookupError as exc:
            raise EncodingRefused(f"unknown encoding {name!r}") from exc
        return chunk

    def _convert(self, chunk: bytes, final: bool) -> bytes:
        try:
            assert self.decoder is not None  # set by _start, which runs first
            text = self.decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            at = self.offset + exc.start
            bad = chunk[exc.start:exc.start + 1].hex() if exc.start < len(chunk) else "end of file"
            raise EncodingRefused(
                f"not UTF-8: byte 0x{bad} at offset {at} is invalid; if the file is in another encoding, "
                f"pass --encoding (e.g. --encoding iso-8859-1)" if self.encoding is None else
                f"cannot be decoded as {self.encoding}: byte 0x{bad} at offset {at}") from exc
        self.offset += len(chunk)
        if self.encoding is None:
            return chunk  # checked, passed on unchanged
        return text.encode("utf-8")

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            chunk = self.raw.read(CHUNK)
            if not self.started:
                chunk = self._start(chunk)
            if not chunk:
                self.pending = self._convert(b"", True)
                if not self.pending:
                    return 0
                break
            self.pending = self._convert(chunk, False)
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            super().close()


Opener = Callable[[], IO[bytes]]


def _sources(paths: Iterable[Path]) -> Iterator[tuple[str, Opener | None, int | None, str]]:
    """(name, opener, size, skipped reason) per file, folders recursed in name order, archives opened."""
    for path in paths:
        if path.is_dir():
            yield from _sources(sorted(p for p in path.rglob("*") if p.is_file()))
            continue
        if not path.exists():
            yield str(path), None, None, "no such file"
            continue
        name = str(path)
        lower = path.name.lower()
        if lower.endswith(".zip"):
            try:
                zf = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                yield name, None, None, f"not a readable zip file: {exc}"
                continue
            with zf:
                for info in sorted(zf.infolist(), key=lambda i: i.filename):
                    if info.is_dir():
                        continue
                    member = f"{name}!{info.filename}"
                    inner = info.filename.lower()
                    if not inner.endswith(SUFFIXES) or inner.endswith(".zip"):
                        yield member, None, None, "not a .json, .jsonl or .gz file"
                        continue

                    def open_member(zf_path: Path = path, filename: str = info.filename) -> IO[bytes]:
                        archive = zipfile.ZipFile(zf_path)
                        stream = archive.open(filename)
                        if filename.lower().endswith(".gz"):
                            return gzip.GzipFile(fileobj=stream)  # type: ignore[return-value]
                        return stream

                    yield member, open_member, info.file_size, ""
            continue
        if not lower.endswith(SUFFIXES):
            yield name, None, None, "not a .json, .jsonl, .gz or .zip file"
            continue
        size = path.stat().st_size
        if lower.endswith(".gz"):
            yield name, functools.partial(_open_gzip, path), size, ""
        else:
            yield name, functools.partial(_open_plain, path), size, ""


def _open_gzip(path: Path) -> IO[bytes]:
    # typeshed declares GzipFile a BufferedIOBase, not an IO[bytes]; it is one (read, readinto, close)
    return gzip.open(path, "rb")  # type: ignore[return-value]  # noqa: SIM115 - the reader closes it


def _open_plain(path: Path) -> IO[bytes]:
    return path.open("rb")  # noqa: SIM115 - the reader closes it


def _is_lines(name: str) -> bool:
    base = name.lower().removesuffix(".gz")
    return base.endswith(LINE_SUFFIXES)


def read(paths: Iterable[Path], *, encoding: str | None = None) -> Iterator[FileStart | Item | Refusal]:
    """Every release and record in `paths` (see the module's docstring). Each file starts with a FileStart
    whose `position()` tells how far into it the reader is."""
    for name, opener, size, skipped in _sources(paths):
        position = Position()
        yield FileStart(name=name, size=size, skipped=skipped, position=position)
        if opener is None:
            continue

        def tracked(opener: Opener = opener, position: Position = position) -> IO[bytes]:
            raw = opener()
            position.raw = raw
            return raw

        try:
            yield from _read_file(name, tracked, encoding)
        except EncodingRefused as exc:
            yield Refusal(where=name, reason=str(exc))
        except (OSError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
            yield Refusal(where=name, reason=f"cannot be read: {exc}")


def _open(name: str, opener: Opener, encoding: str | None) -> io.BufferedReader:
    return io.BufferedReader(Utf8Stream(opener(), encoding, name), buffer_size=CHUNK)


def _read_file(name: str, opener: Opener, encoding: str | None) -> Iterator[Item | Refusal]:
    if _is_lines(name):
        with _open(name, opener, encoding) as stream:
            yield from _read_lines(name, stream)
        return
    with _open(name, opener, encoding) as stream:
        head = stream.read(WHOLE_MAX + 1)
    if len(head) <= WHOLE_MAX:
        yield from _read_whole(name, head)
        return
    first = head.split(b"\n", 1)[0]
    if len(first) < len(head) and _is_json(first):  # a big JSON Lines file under another name
        del head
        with _open(name, opener, encoding) as stream:
            yield from _read_lines(name, stream)
        return
    del head
    yield from _read_streamed(name, opener, encoding)


def _is_json(raw: bytes) -> bool:
    try:
        decode(raw)
    except msgspec.DecodeError:
        return False
    return True


def _read_whole(name: str, raw: bytes) -> Iterator[Item | Refusal]:
    """A small file: one JSON document (read whole, so its package metadata is known wherever it stands), or
    JSON Lines (several documents, one per line)."""
    try:
        value = decode(raw)
    except msgspec.DecodeError as exc:
        lines = raw.splitlines(keepends=True)
        if len(lines) > 1 and _is_json(lines[0]):
            yield from _read_lines(name, lines)
        else:
            yield Refusal(where=name, reason=f"not valid JSON: {exc}")
        return
    yield from items_of(value, f"{name}:", Meta())


def _read_lines(name: str, lines: Iterable[bytes], start: int = 1) -> Iterator[Item | Refusal]:
    for n, line in enumerate(lines, start):
        if not line.strip():
            continue
        where = f"{name}: line {n}"
        try:
            value = decode(line)
        except msgspec.DecodeError as exc:
            yield Refusal(where=where, reason=f"not valid JSON: {exc}")
            continue
        yield from items_of(value, where, Meta())


def _meta(package: dict[str, Any], *, in_package: bool = True) -> Meta:
    pub = p if isinstance(p := package.get("publisher"), dict) else {}
    version = package.get("version")

    def text(key: str) -> str:
        v = pub.get(key)
        return str(v).strip() if isinstance(v, (str, int)) else ""

    scheme, uid = text("scheme"), text("uid")
    return Meta(publisher_name=text("name"), publisher_uri=text("uri"),
                publisher_uid=f"{scheme}-{uid}" if scheme and uid else uid,
                version=version if isinstance(version, str) else None, in_package=in_package)


def items_of(value: Any, where: str, meta: Meta) -> Iterator[Item | Refusal]:
    """The releases and records in one parsed JSON value (a package, a release, a record or an array)."""
    if isinstance(value, list):
        for i, v in enumerate(value):
            yield from items_of(v, f"{where}[{i}]", meta)
        return
    if not isinstance(value, dict):
        yield Refusal(where=where, reason=f"not an OCDS release, record or package (a JSON {type(value).__name__})")
        return
    records = value.get("records")
    releases = value.get("releases")
    if records is not None and "ocid" not in value:
        if not isinstance(records, list):
            yield Refusal(where=where, reason="'records' must be an array")
            return
        m = _meta(value)
        for i, rec in enumerate(records):
            yield Item(kind="record", value=rec, where=f"{where} records[{i}]", meta=m)
        return
    if "compiledRelease" in value or "versionedRelease" in value or (releases is not None and "ocid" in value):
        m = _meta(value, in_package=False) if isinstance(value.get("publisher"), dict) else meta
        yield Item(kind="record", value=value, where=where, meta=m)
        return
    if releases is not None:
        if not isinstance(releases, list):
            yield Refusal(where=where, reason="'releases' must be an array")
            return
        m = _meta(value)
        for i, rel in enumerate(releases):
            yield Item(kind="release", value=rel, where=f"{where} releases[{i}]", meta=m)
        return
    if "ocid" in value and "id" not in value and any(
            isinstance(v, list) and v and is_versioned_value(v[0]) for v in value.values()):
        yield Item(kind="record", value={"ocid": value["ocid"], "versionedRelease": value}, where=where, meta=meta)
        return
    if "ocid" in value or {"id", "date", "tag"} <= set(value):
        yield Item(kind="release", value=value, where=where, meta=meta)
        return
    keys = ", ".join(list(value)[:5]) or "none"
    yield Refusal(where=where, reason=f"not an OCDS release, record or package (no releases, records or ocid; "
                                      f"keys: {keys})")


def _read_streamed(name: str, opener: Opener, encoding: str | None) -> Iterator[Item | Refusal]:
    """A JSON document too big (or not shaped) for a line: find its shape, then stream its big array."""
    top: dict[str, Any] = {}
    shape = ""
    publisher: dict[str, Any] = {}
    with _open(name, opener, encoding) as stream:
        try:
            for prefix, event, value in ijson.parse(stream, multiple_values=True):
                if prefix == "" and event == "start_array":
                    shape = "array"
                    break
                if prefix == "" and event == "map_key":
                    if value == "records":
                        shape = "records"
                        break
                    if value == "releases" and "ocid" not in top and "compiledRelease" not in top:
                        shape = "releases"
                        break
                    top[value] = True
                elif prefix == "version" and event == "string":
                    top["version"] = value
                elif prefix.startswith("publisher.") and prefix.count(".") == 1 and event in ("string", "number"):
                    publisher[prefix[len("publisher."):]] = value
                elif prefix == "" and event == "end_map":
                    break
        except ijson.JSONError as exc:
            yield Refusal(where=name, reason=f"not valid JSON: {_ijson_reason(exc)}")
            return
    meta = _meta({"publisher": publisher, "version": top.get("version")})
    with _open(name, opener, encoding) as stream:
        if shape in ("records", "releases"):
            kind = "record" if shape == "records" else "release"
            i = -1
            try:
                for i, item in enumerate(ijson.items(stream, f"{shape}.item", use_float=False,
                                                     multiple_values=True)):
                    yield Item(kind=kind, value=item, where=f"{name}: {shape}[{i}]", meta=meta)
            except ijson.JSONError as exc:
                after = f" after {shape}[{i}]" if i >= 0 else ""
                yield Refusal(where=f"{name}: {shape}[{i + 1}]",
                              reason=f"not valid JSON{after}: {_ijson_reason(exc)} (the rest of the file is skipped)")
            return
        prefix = "item" if shape == "array" else ""
        i = -1
        try:
            for i, item in enumerate(ijson.items(stream, prefix, use_float=False, multiple_values=True)):
                where = f"{name}: [{i}]" if shape == "array" else name
                yield from items_of(item, where, Meta())
        except ijson.JSONError as exc:
            yield Refusal(where=name if i < 0 else f"{name}: [{i + 1}]",
                          reason=f"not valid JSON: {_ijson_reason(exc)}")


def _ijson_reason(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split())[:200]

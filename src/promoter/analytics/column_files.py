"""An organization's response columns saved as NumPy ``.npy`` files and mapped back.

Each organization has a folder under ``<directory>/<database key>/org-<id>/`` (the key is
a hash of the database URL, so two databases never share files). A save writes a new
*generation* folder — one ``.npy`` file per array and a ``manifest.json`` naming the
format version, the schema revision, the organization, its ``analytics_epoch``, the newest
``updated_at`` seen, and each file's dtype, shape and CRC-32 — under a temporary name, renames
it into place, then points ``current`` at it (``os.replace``: readers see the old
generation or the new one, never half of one). Reading maps the files copy-on-write
(``np.load(mmap_mode="c")``): processes on the same machine share the pages through the
page cache, and a catch-up that changes a response copies only the pages it writes.

A file that does not match its manifest (truncated, changed, another format version,
schema revision or organization) is not used: the caller loads from the database and
saves again. What the files say is then checked against the database by the caller
(``AnalyticsCache``) after catching up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import URL

from promoter.analytics.response_columns import AttributeColumn, ResponseColumns
from promoter.storage.engine import Database
from promoter.storage.migrate import current_revision

log = logging.getLogger("promoter.analytics")

#: Bumped whenever the arrays or the manifest change meaning.
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CURRENT = "current"
#: Generations no longer current are removed once this old (a reader may still be
#: opening one: its mapped files stay readable after removal, not its folder).
STALE_SECONDS = 60.0
_RESPONSE_ARRAYS = ("created", "campaign", "contact", "score", "commented", "closed", "channel")


def database_key(url: str) -> str:
    """A short hash of the database URL (password left out): files of one database."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def default_directory(url: URL) -> Path | None:
    """Next to a SQLite file (``<file>-analytics``), else the user's cache folder (None for
    an in-memory SQLite database)."""
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return None
        path = Path(url.database).resolve()
        return path.with_name(f"{path.name}-analytics")
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "promoter" / "analytics"


class ColumnFiles:
    """The saved columns of each organization of one database, under ``directory``."""

    def __init__(
        self, directory: Path, *, database: str, revision: Callable[[], str | None]
    ) -> None:
        self.directory = directory / database_key(database)
        self._revision = revision

    @cached_property
    def revision(self) -> str:
        """The schema revision the files are written for and checked against: asked of the
        database on first use (never while the service is being built: a server starts
        while its database is down, and migrates after it is built)."""
        return self._revision() or "none"

    @classmethod
    def for_database(cls, database: Database, setting: str | None) -> ColumnFiles | None:
        """The files of ``database`` in the folder ``setting`` names (None: the default
        folder; empty: no files)."""
        url = database.engine.url
        if setting is None:
            directory = default_directory(url)
        else:
            directory = Path(setting) if setting else None
        if directory is None:
            return None
        name = url.render_as_string(hide_password=True)
        if url.get_backend_name() == "sqlite" and url.database:
            name = f"sqlite:///{Path(url.database).resolve()}"
        return cls(directory, database=name, revision=lambda: current_revision(database.engine))

    def folder(self, organization_id: int) -> Path:
        return self.directory / f"org-{int(organization_id)}"

    # -- writing -------------------------------------------------------------------------

    def save(self, columns: ResponseColumns) -> Path:
        """Write ``columns`` as a new generation and make it current."""
        folder = self.folder(columns.organization_id)
        # Only the server's user reads them: they hold the organization's answers.
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        name = f"v{FORMAT_VERSION}-{self.revision}-{uuid.uuid4().hex}"
        temporary = folder / f".tmp-{name}"
        temporary.mkdir()
        try:
            files: dict[str, dict[str, Any]] = {}
            for key, array in _arrays_of(columns).items():
                file_name = f"{len(files)}.npy"
                np.save(temporary / file_name, np.ascontiguousarray(array), allow_pickle=False)
                files[key] = {
                    "file": file_name,
                    "dtype": array.dtype.str,
                    "shape": list(array.shape),
                    "crc32": _crc32(array),
                }
            manifest = self._manifest(columns) | {"files": files}
            (temporary / MANIFEST).write_text(json.dumps(manifest))
            os.rename(temporary, folder / name)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        pointer = folder / f".{CURRENT}-{uuid.uuid4().hex}"
        pointer.write_text(name)
        os.replace(pointer, folder / CURRENT)
        self._remove_stale(folder, keep=name)
        return folder / name

    def _manifest(self, columns: ResponseColumns) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "revision": self.revision,
            "organization_id": columns.organization_id,
            "epoch": columns.epoch,
            "organization_created": columns.organization_created,
            "newest": None if columns.newest is None else columns.newest.isoformat(),
            "size": columns.size,
            "capacity": columns.capacity,
            "tags": list(columns.tags),
            "attributes": {
                name: {"texts": column.texts, "numbers": column.number is not None}
                for name, column in columns.attributes.items()
            },
        }

    def _remove_stale(self, folder: Path, *, keep: str) -> None:
        current = _read_pointer(folder)
        horizon = time.time() - STALE_SECONDS
        for path in folder.iterdir():
            if path.name in (keep, current, CURRENT) or not path.is_dir():
                continue
            try:
                if path.stat().st_mtime < horizon:
                    shutil.rmtree(path, ignore_errors=True)
            except FileNotFoundError:
                continue

    # -- reading -------------------------------------------------------------------------

    def current(self, organization_id: int) -> str | None:
        """The name of the organization's current generation (None: nothing saved)."""
        return _read_pointer(self.folder(organization_id))

    def open(self, organization_id: int, name: str) -> ResponseColumns | None:
        """The columns saved in generation ``name``, mapped; None when they are not to be
        trusted."""
        folder = self.folder(organization_id)
        try:
            return self._read(folder / name, organization_id)
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning(
                "analytics files of organization %s not used (%s): loading from the database",
                organization_id,
                error,
            )
            return None

    def _read(self, generation: Path, organization_id: int) -> ResponseColumns | None:
        manifest = json.loads((generation / MANIFEST).read_text())
        expected = (FORMAT_VERSION, self.revision, organization_id)
        found = (manifest["format"], manifest["revision"], manifest["organization_id"])
        if found != expected:
            raise ValueError(f"written for {found}, wanted {expected}")
        arrays = {key: _mapped(generation, spec) for key, spec in manifest["files"].items()}
        columns = ResponseColumns(organization_id, int(manifest["epoch"]))
        columns.organization_created = manifest["organization_created"]
        newest = manifest["newest"]
        columns.newest = None if newest is None else datetime.fromisoformat(newest)
        columns.size = int(manifest["size"])
        columns.capacity = int(manifest["capacity"])
        for key in _RESPONSE_ARRAYS:
            setattr(columns, key, arrays[key])
        columns._id_sorted = arrays["id index"]
        columns._id_position = arrays["id positions"]
        columns.tags = {tag: arrays[f"tag {i}"] for i, tag in enumerate(manifest["tags"])}
        columns.attributes = OrderedDict()
        for i, (name, spec) in enumerate(manifest["attributes"].items()):
            texts: list[str] = list(spec["texts"])
            number = arrays[f"attribute {i}.number"] if spec["numbers"] else None
            columns.attributes[name] = AttributeColumn(
                arrays[f"attribute {i}.kind"],
                arrays[f"attribute {i}.code"],
                number,
                texts,
                {text: code for code, text in enumerate(texts)},
            )
        _check_lengths(columns)
        return columns


def _arrays_of(columns: ResponseColumns) -> dict[str, Any]:
    """Every array to save, by the key the manifest gives it."""
    arrays: dict[str, Any] = {key: getattr(columns, key) for key in _RESPONSE_ARRAYS}
    arrays |= {"id index": columns._id_sorted, "id positions": columns._id_position}
    arrays |= {f"tag {i}": flags for i, flags in enumerate(columns.tags.values())}
    for i, column in enumerate(columns.attributes.values()):
        arrays |= {f"attribute {i}.kind": column.kind, f"attribute {i}.code": column.code}
        if column.number is not None:
            arrays[f"attribute {i}.number"] = column.number
    return arrays


def _mapped(generation: Path, spec: dict[str, Any]) -> Any:
    """One file mapped copy-on-write, checked against its manifest entry."""
    array = np.load(generation / spec["file"], mmap_mode="c", allow_pickle=False)
    if array.dtype.str != spec["dtype"] or list(array.shape) != spec["shape"]:
        raise ValueError(f"{spec['file']}: {array.dtype.str} {array.shape}, not as written")
    if _crc32(array) != spec["crc32"]:
        raise ValueError(f"{spec['file']}: checksum differs")
    return array


def _check_lengths(columns: ResponseColumns) -> None:
    for key in _RESPONSE_ARRAYS:
        if len(getattr(columns, key)) != columns.capacity:
            raise ValueError(f"{key}: not {columns.capacity} long")
    others: list[Any] = [*columns.tags.values()]
    for column in columns.attributes.values():
        others += [column.kind, column.code] + ([] if column.number is None else [column.number])
    if any(len(array) != columns.capacity for array in others):
        raise ValueError(f"a tag or attribute column is not {columns.capacity} long")
    if not len(columns._id_sorted) == len(columns._id_position) == columns.size:
        raise ValueError(f"the id index is not {columns.size} long")
    if columns.size > columns.capacity:
        raise ValueError("more responses than room")


def _crc32(array: Any) -> int:
    contiguous: Any = np.ascontiguousarray(array)
    return zlib.crc32(memoryview(contiguous).cast("B"))


def _read_pointer(folder: Path) -> str | None:
    try:
        name = (folder / CURRENT).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return name if name and "/" not in name and not name.startswith(".") else None

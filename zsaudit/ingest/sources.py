"""Where ingest reads from: local paths, or objects in S3, GCS and Azure Blob through fsspec.

A location is a local path or glob, a `file://` URL (a local path), or an `s3://`, `gs://`
(`gcs://`) or `az://` (`abfs://`, `abfss://`) prefix, object or glob. `remote_files()` lists
the objects under one (hidden ones skipped, sorted by name); `RemoteFile` stands in for the
parts of `pathlib.Path` the ingesters use (read_bytes, stat, exists, name, suffix), and
`local_copy()` streams an object to a temporary file in fixed-size blocks for the ingesters
that read a file several times (hash, sniff, load). Memory per object stays at one block.

Credentials and endpoints come the standard way of each store (s3fs: the AWS environment
variables and profiles, `AWS_ENDPOINT_URL` included; gcsfs: Application Default Credentials;
adlfs: `AZURE_STORAGE_CONNECTION_STRING` / `AZURE_STORAGE_ACCOUNT_NAME` + key or
DefaultAzureCredential). The ledger names an object by its full URL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Iterator
from urllib.parse import unquote, urlsplit

from ..errors import BadInput, BadUsage

# scheme -> (pip extra, fsspec implementation package)
_STORES = {
    "s3": ("s3", "s3fs"), "s3a": ("s3", "s3fs"),
    "gs": ("gcs", "gcsfs"), "gcs": ("gcs", "gcsfs"),
    "az": ("azure", "adlfs"), "abfs": ("azure", "adlfs"), "abfss": ("azure", "adlfs"),
}
GLOB_CHARS = frozenset("*?[")
COPY_BLOCK = 8 << 20            # bytes per read while copying an object to a local file


def scheme(location: str) -> str:
    head, sep, _ = str(location).partition("://")
    return head.lower() if sep and head.isalnum() else ""


def is_remote(location) -> bool:
    """An object-store URL (s3://, gs://, az://, ...)."""
    return scheme(str(location)) in _STORES


def local_path(location) -> str:
    """`file:///x/y` -> `/x/y`; anything else unchanged."""
    text = str(location)
    if scheme(text) == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise BadUsage(f"{text}: a file:// URL names a local path (file:///path); got host {parts.netloc!r}")
        return unquote(parts.path)
    return text


def local_files(root: Path) -> list[Path]:
    """Regular files below a local folder, sorted; hidden files and everything in hidden folders
    skipped (a receiver's .part files and .rejected/ bodies, editors' and tools' droppings)."""
    return sorted(f for f in Path(root).rglob("*")
                  if f.is_file() and not any(part.startswith(".") for part in f.relative_to(root).parts))


@dataclass(frozen=True)
class _Stat:
    st_size: int
    st_mtime: float


@dataclass(eq=False)
class RemoteFile:
    """One object: its full URL, size and modification time, read through its filesystem."""

    url: str
    size: int
    mtime: datetime | None = None
    fs: object = field(default=None, repr=False)
    key: str = ""                    # the filesystem's own path (bucket/key)
    relative: str = ""               # the part after the listed prefix (posix)

    # the parts of pathlib.Path the ingesters use
    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.key).suffix

    def as_posix(self) -> str:
        return self.url

    def __str__(self) -> str:
        return self.url

    def __fspath__(self) -> str:     # never read as a local file by accident
        raise TypeError(f"{self.url} is an object-store URL, not a local path")

    def exists(self) -> bool:
        return True

    def stat(self) -> _Stat:
        return _Stat(self.size, self.mtime.timestamp() if self.mtime else 0.0)

    def open(self, mode: str = "rb"):
        if mode != "rb":
            raise ValueError(f"{self.url}: objects are read-only ('rb'), not {mode!r}")
        try:
            return self.fs.open(self.key, "rb", block_size=COPY_BLOCK)
        except Exception as exc:  # noqa: BLE001 - every store has its own exception types
            raise OSError(_reason(exc)) from exc

    def read_bytes(self) -> bytes:
        try:
            return self.fs.cat_file(self.key)
        except Exception as exc:  # noqa: BLE001
            raise OSError(_reason(exc)) from exc


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."


def filesystem(url: str):
    """(fsspec filesystem, its path) for an object-store URL; a plain error when the extra that
    reads this store is not installed."""
    extra, package = _STORES[scheme(url)]
    try:
        import fsspec.core
    except ImportError:
        raise BadUsage(f"{url}: reading {scheme(url)}:// needs the '{extra}' extra: "
                       f"pip install 'zsaudit[{extra}]'") from None
    try:
        fs, path = fsspec.core.url_to_fs(url, **_options(scheme(url)))
    except ImportError:
        raise BadUsage(f"{url}: reading {scheme(url)}:// needs {package}: pip install 'zsaudit[{extra}]'") from None
    except ValueError as exc:
        raise BadUsage(f"{url}: {exc}") from None
    return fs, path


def register_filesystem(con, url: str) -> None:
    """Let DuckDB connection `con` read (and glob) `url`'s store through fsspec, with the
    credentials and endpoint `filesystem` uses: DuckDB's own httpfs extension is not assumed (it
    downloads on first use). Once per database instance; a local path needs nothing."""
    if not is_remote(url):
        return
    fs, _ = filesystem(url)
    name = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if name not in con.list_filesystems():
        con.register_filesystem(fs)


def _options(sch: str) -> dict:
    if sch in ("s3", "s3a"):
        # botocore reads AWS_ENDPOINT_URL itself from 1.31 on; say it for older ones too
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return {"endpoint_url": endpoint} if endpoint else {}
    return {}


def remote_files(location: str) -> list[RemoteFile]:
    """The objects a remote location names: the object itself, every object below a prefix
    (recursively), or the objects a glob matches; hidden names (.x) are skipped. Sorted by URL.
    An unreachable store or a missing prefix is a BadInput naming the location."""
    fs, path = filesystem(location)
    try:
        fs.invalidate_cache()            # a long-lived process (the DAG, tests) sees new objects
        if GLOB_CHARS & set(path):
            found = fs.glob(path, detail=True)
            root = path[:min(path.index(c) for c in GLOB_CHARS if c in path)].rsplit("/", 1)[0]
        else:
            info = _info(fs, path)
            if info is None:
                raise BadInput(f"{location}: no such object or prefix")
            if info.get("type") == "directory":
                found = fs.find(path, detail=True)
                root = path.rstrip("/")
            else:
                found = {info["name"]: info}
                root = path.rsplit("/", 1)[0]
    except BadInput:
        raise
    except Exception as exc:  # noqa: BLE001 - connection refused, denied, no such bucket, ...
        raise BadInput(f"{location}: cannot list ({_reason(exc)}); check the URL, the credentials "
                       "and the endpoint (AWS_ENDPOINT_URL for an S3-compatible server)") from None
    out = []
    for key, info in found.items():
        if info.get("type") == "directory":
            continue
        key = info.get("name", key)
        rel = key[len(root):].lstrip("/") if key.startswith(root) else key
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        # the scheme the user wrote (adlfs would say abfs:// for az://): the ledger and the pack name it
        out.append(RemoteFile(url=f"{scheme(location)}://{key.lstrip('/')}", size=int(info.get("size") or 0),
                              mtime=_mtime(info), fs=fs, key=key, relative=rel))
    out.sort(key=lambda f: f.url)
    return out


def _info(fs, path: str) -> dict | None:
    try:
        return fs.info(path)
    except FileNotFoundError:
        return None


def _mtime(info: dict) -> datetime | None:
    for key in ("LastModified", "last_modified", "mtime", "updated", "last_modified_time"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
    return None


@contextmanager
def local_copy(obj: RemoteFile) -> Iterator[Path]:
    """The object streamed to a temporary file (COPY_BLOCK at a time), removed afterwards.
    A read that fails (the store went away mid-object) is a BadInput naming the URL."""
    fd, name = tempfile.mkstemp(prefix="zsaudit-object-", suffix=obj.suffix)
    try:
        try:
            with os.fdopen(fd, "wb") as out, obj.open() as src:
                shutil.copyfileobj(src, out, COPY_BLOCK)
        except Exception as exc:  # noqa: BLE001
            raise BadInput(f"{obj.url}: cannot read ({_reason(exc)}); nothing of it was loaded, "
                           "the next run reads it again") from None
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


@contextmanager
def readable(path) -> Iterator[Path]:
    """A local path as it is; an object as a local copy for the time of the block."""
    if isinstance(path, RemoteFile):
        with local_copy(path) as copy:
            yield copy
    else:
        yield path

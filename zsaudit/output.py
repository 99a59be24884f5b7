"""Where zsaudit writes: output folders checked before any work, folders zsaudit owns, and packs
written into a temporary sibling and swapped in whole, under a lock.

    ensure_dir(path, what)        an --out folder: created (its parent must exist), writable, not a file
    claim_dir(path, marker, ...)  a folder zsaudit will delete things in: new, empty, or already its own
    write_atomically(final, write, is_ours=...)
                                  write(tmp) renders into .zsaudit-tmp-<name>, beside final; when it
                                  returns, tmp replaces final in one rename; all under the lock file
                                  .zsaudit-lock-<name> (a second writer waits up to lock_wait
                                  seconds for it, then gets Busy, exit 2, naming it and the holder;
                                  the file is there only while a writer holds it)

Every problem with the place the user named is a BadUsage naming it (exit 2): a scheduler must
not retry a read-only or mistyped --out. A killed writer leaves the previous folder intact; its
leftovers (.zsaudit-tmp-<name>, .zsaudit-old-<name>) are cleared by the next writer of that name.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from .errors import BadUsage, Busy

T = TypeVar("T")
TMP_PREFIX = ".zsaudit-tmp-"
OLD_PREFIX = ".zsaudit-old-"
LOCK_PREFIX = ".zsaudit-lock-"
LOCK_WAIT = 60.0          # seconds a writer waits for a pack folder another zsaudit is writing
_LOCK_POLL = 0.2


def _describe(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _probe_writable(folder: Path, prefix: str) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=".zsaudit-probe-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise BadUsage(f"{prefix}: cannot write in {folder} ({_describe(exc)})") from None


def ensure_dir(path: str | os.PathLike, what: str = "--out") -> Path:
    """The folder `path`, created if missing (not its parents: a missing parent is more often a
    typo than a wish), checked to be a folder zsaudit can write in. BadUsage otherwise."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise BadUsage(f"{what} {path}: a dangling symbolic link")
    if path.exists() and not path.is_dir():
        raise BadUsage(f"{what} {path}: exists and is not a folder")
    if not path.exists():
        parent = path.absolute().parent
        if not parent.is_dir():
            state = "is not a folder" if parent.exists() else "does not exist"
            raise BadUsage(f"{what} {path}: its parent folder {parent} {state} (create it first)")
        try:
            path.mkdir()
        except FileExistsError:
            if not path.is_dir():
                raise BadUsage(f"{what} {path}: exists and is not a folder") from None
        except OSError as exc:
            raise BadUsage(f"{what} {path}: cannot create it ({_describe(exc)})") from None
    _probe_writable(path, f"{what} {path}")
    return path


def claim_dir(path: str | os.PathLike, *, marker: str, what: str, purpose: str,
              also_ours: Callable[[Path], bool] | None = None, mark: bool = True) -> Path:
    """A folder zsaudit may delete things in (a demo it replaces, packs retention removes): new,
    empty, marked by `marker` (by zsaudit when `mark`, or by the user to claim a folder with
    other things in it), or (also_ours) holding nothing but what zsaudit wrote there.
    Anything else (the filesystem root, a home folder, a shared folder) is refused: zsaudit
    never deletes what it did not write."""
    if Path(path).absolute() == Path(Path(path).absolute().anchor):
        raise BadUsage(f"{what} {path}: the filesystem root; give zsaudit a folder of its own: {purpose}")
    path = ensure_dir(path, what)
    marker_path = path / marker
    if not marker_path.is_file():
        entries = [p for p in sorted(path.iterdir()) if not p.name.startswith(".zsaudit-")]
        foreign = [p.name for p in entries if not (also_ours and also_ours(p))]
        if foreign:
            shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
            raise BadUsage(f"{what} {path}: the folder is not empty and holds things zsaudit did not write ({shown}); "
                           f"give it a folder of its own (new or empty): {purpose}")
        if not mark:
            return path
        try:
            marker_path.write_text(f"This folder belongs to zsaudit: {purpose}.\n", encoding="utf-8")
        except OSError as exc:
            raise BadUsage(f"{what} {path}: cannot write in it ({_describe(exc)})") from None
    return path


@contextmanager
def folder_lock(final: Path, what: str, wait: float = 0.0) -> Iterator[Path]:
    """Hold the lock of `final` (the file .zsaudit-lock-<name> beside it, there only while held),
    waiting up to `wait` seconds for another writer to finish, or raise Busy naming the lock,
    its holder and how long zsaudit waited."""
    lock_path = final.parent / f"{LOCK_PREFIX}{final.name}"
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise BadUsage(f"{what} {final}: cannot create the lock file {lock_path} ({_describe(exc)})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            if time.monotonic() < deadline:
                time.sleep(min(_LOCK_POLL, max(0.0, deadline - time.monotonic())))
                continue
            waited = f"waited {wait:g} s; " if wait > 0 else ""
            raise Busy(f"{what} {final}: another zsaudit{f' (pid {holder})' if holder.isdigit() else ''} "
                       f"is writing it (lock {lock_path}); {waited}try again when it is done") from None
        try:
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # its holder removed this file between our open and lock: lock the one now there
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield lock_path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path)  # while still held, so the next writer locks a fresh file
        os.close(fd)


def _recover(parent: Path, name: str) -> None:
    """Clear what a killed writer of `name` left (under its lock, so no live writer owns it)."""
    old = parent / f"{OLD_PREFIX}{name}"
    if old.is_dir():
        if (parent / name).exists():
            shutil.rmtree(old, ignore_errors=True)
        else:  # killed between its two renames: the previous folder comes back
            old.rename(parent / name)
    tmp = parent / f"{TMP_PREFIX}{name}"
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp)
    elif tmp.is_symlink() or tmp.exists():
        tmp.unlink()


_RENAME_EXCHANGE = 2
_libc = None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            _libc.renameat2  # noqa: B018  glibc >= 2.28
        except (OSError, AttributeError):
            _libc = False
    if not _libc:
        return False
    at_fdcwd = -100
    rc = _libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the filesystem or kernel cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(tmp: Path, final: Path) -> None:
    """tmp becomes final. With an existing final: exchanged in one step (tmp then holds the old
    folder, removed by the caller), else two renames that _recover completes after a kill."""
    if not final.exists():
        tmp.rename(final)
        return
    if _exchange(tmp, final):
        return
    old = final.parent / f"{OLD_PREFIX}{final.name}"
    final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomically(final: str | os.PathLike, write: Callable[[Path], T], *, what: str = "--out",
                     is_ours: Callable[[Path], bool] = lambda p: False, kind: str = "folder",
                     lock_wait: float = 0.0) -> T:
    """Run write(tmp) into an empty temporary sibling of `final`, then swap it in whole.

    `final` may be missing, empty or a folder `is_ours` recognises (an earlier pack): anything
    else is refused, since the swap replaces the whole folder. A writer already at work on `final`
    is waited for up to `lock_wait` seconds (then Busy). Returns write's result."""
    final = Path(final)
    if final.name in ("", ".", "..") or final.absolute() == Path(final.absolute().anchor):
        raise BadUsage(f"{what} {final}: name a {kind} of its own, not {final.absolute()}")
    if final.is_symlink():
        raise BadUsage(f"{what} {final}: a symbolic link; name the {kind} itself")
    if final.exists() and not final.is_dir():
        raise BadUsage(f"{what} {final}: exists and is not a folder")
    parent = final.absolute().parent
    if not parent.is_dir():
        state = "is not a folder" if parent.exists() else "does not exist"
        raise BadUsage(f"{what} {final}: its parent folder {parent} {state} (create it first)")
    _probe_writable(parent, f"{what} {final}: the {kind} is written beside it and swapped in, but")
    with folder_lock(final, what, lock_wait):
        _recover(parent, final.name)
        if final.is_dir() and any(final.iterdir()) and not is_ours(final):
            shown = ", ".join(sorted(p.name for p in final.iterdir())[:5])
            raise BadUsage(f"{what} {final}: the folder holds files that are not an earlier {kind} ({shown}); "
                           "choose an empty or new folder")
        tmp = parent / f"{TMP_PREFIX}{final.name}"  # one writer per name (the lock): a fixed name
        tmp.mkdir(mode=0o700)
        try:
            result = write(tmp)
            os.chmod(tmp, 0o777 & ~_umask())  # private while written; the finished folder is for reading
            _swap_in(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return result

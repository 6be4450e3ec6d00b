"""The process a command runs in: library caches that can be written, and output streams that
never fail on a character the terminal cannot show.

Two things of the user's environment would otherwise end a command with a traceback:

* **A home folder (or cache folder) that cannot be written.** ArviZ writes a stamp file into its
  cache folder when it is imported (``$XDG_CACHE_HOME/arviz``), PyTensor compiles into
  ``~/.pytensor``, Matplotlib keeps its configuration and font cache in ``~/.config/matplotlib``,
  numba and Dask may be given folders of their own. :func:`redirect_unwritable_caches` points
  each such folder that cannot be written to a private folder of the user under the temporary
  folder (``rechallenge-UID``, mode 0700), through each library's documented setting
  (``XDG_CACHE_HOME``, ``MPLCONFIGDIR``, ``PYTENSOR_FLAGS=base_compiledir=...``,
  ``NUMBA_CACHE_DIR``, ``DASK_TEMPORARY_DIRECTORY``, ``RECHALLENGE_JAX_CACHE_DIR``). Folders
  that can be written are left as they are. It must run before the libraries are imported: the
  command line imports them only inside the commands, so :func:`prepare_environment` at the
  entry point comes first. The settings are environment variables, so the worker processes of a
  local Dask cluster inherit them.
* **An output stream that is not UTF-8** (``PYTHONIOENCODING=ascii``, a latin-1 terminal) and a
  label it cannot encode. :func:`tolerant_streams` makes standard output and standard error
  write such characters as backslash escapes (``\\xfc``) instead of raising, so no command
  fails while it prints, after its files were written.

And one library notice is not for our users: ArviZ warns, at its first import of each day, that
its next major version will change its interface (a ``FutureWarning`` about ArviZ's own API,
which this package pins). :func:`quiet_library_notices` ignores exactly that warning, by its
category and the start of its message; every other warning stays as it was.
"""

from __future__ import annotations

import io
import os
import shlex
import stat
import sys
import tempfile
import warnings
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

#: The folder under the temporary folder that takes the caches that cannot be written where they
#: are; ``{uid}`` is the user's id, so users never share it.
PRIVATE_FOLDER = "rechallenge-{uid}"
#: Start of the message of ArviZ's once-a-day notice of its coming refactor (a regular
#: expression, matched at the start of the message, which begins with a newline).
ARVIZ_NOTICE = r"\s*ArviZ is undergoing a major refactor"
#: Error handlers that raise on a character the stream's encoding lacks.
_RAISING = ("strict", "surrogateescape")


@dataclass
class CacheSetup:
    """What :func:`redirect_unwritable_caches` did.

    Parameters
    ----------
    redirected
        ``{setting: folder}`` for every environment variable it set.
    notes
        Sentences for the user: a cache that could not be pointed anywhere writable.
    """

    redirected: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def prepare_environment() -> None:
    """Make this process safe for every command: tolerant output streams, writable caches.

    Called by :func:`rechallenge.analysis.cli.main.main` before any command runs; a note is
    printed on standard error for a cache that could not be made writable.
    """
    tolerant_streams()
    quiet_library_notices()
    for note in redirect_unwritable_caches(os.environ).notes:
        print(f"note: {note}", file=sys.stderr)


def quiet_library_notices() -> None:
    """Ignore ArviZ's daily ``FutureWarning`` about its coming refactor (:data:`ARVIZ_NOTICE`).

    It addresses ArviZ's own users, not ours (the ArviZ version is pinned), and would otherwise
    be the first thing the first command of each day prints. Must run before ArviZ is imported:
    the notice is raised while ArviZ is imported. The worker processes of a local Dask cluster
    start after the command imported ArviZ, so they find today's stamp and do not raise it.
    """
    warnings.filterwarnings("ignore", message=ARVIZ_NOTICE, category=FutureWarning)


def tolerant_streams(streams: tuple[TextIO, ...] | None = None) -> None:
    """Write characters the stream's encoding lacks as backslash escapes instead of raising.

    Parameters
    ----------
    streams
        The streams to change; default standard output and standard error. Only text streams
        whose error handler raises (``strict``, ``surrogateescape``) are changed, through the
        public ``TextIOWrapper.reconfigure``; their encoding is kept.
    """
    for stream in (sys.stdout, sys.stderr) if streams is None else streams:
        if isinstance(stream, io.TextIOWrapper) and stream.errors in _RAISING:
            stream.reconfigure(errors="backslashreplace")


def redirect_unwritable_caches(environ: MutableMapping[str, str]) -> CacheSetup:
    """Point every library cache folder that cannot be written to a private writable folder.

    Parameters
    ----------
    environ
        The environment to read and change (``os.environ`` for this process and its children).

    Returns
    -------
    CacheSetup
        The settings changed and the notes for the user.
    """
    setup = CacheSetup()
    root: Path | None = None
    for cache in _CACHES:
        folder = cache.folder(environ)
        if folder is None or writable(folder):
            continue
        if root is None:
            root = _private_root(setup.notes)
            if root is None:
                setup.notes.append(
                    f"{cache.library} cannot write its folder {folder} and no temporary folder "
                    "can be written either; the command may fail when it needs that folder")
                continue
        target = root / cache.name
        try:
            target.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            setup.notes.append(f"{cache.library} cannot write its folder {folder}, nor {target} "
                               f"({exc.strerror}); the command may fail when it needs it")
            continue
        cache.point(environ, target)
        setup.redirected[cache.setting] = str(target)
    return setup


def writable(folder: Path) -> bool:
    """Whether ``folder`` can be written, or created and then written (nothing is created).

    The nearest part of the path that exists must be a folder this process may write into and
    enter; a file in the way, a read-only file system or missing permissions make it
    unwritable.
    """
    try:
        folder = Path(os.path.abspath(folder))
        for part in (folder, *folder.parents):
            if part.exists() or part.is_symlink():
                return part.is_dir() and os.access(part, os.W_OK | os.X_OK)
    except (OSError, ValueError):  # an unreadable parent, a NUL byte in the setting
        return False
    return False


def _private_root(notes: list[str]) -> Path | None:
    """The user's private folder under the temporary folder, or ``None`` when none can be made.

    Created with mode 0700 and checked to be the user's own and closed to others, so another
    user cannot plant code in PyTensor's compile cache; otherwise a fresh folder is used.
    """
    try:
        root = Path(tempfile.gettempdir()) / PRIVATE_FOLDER.format(uid=os.getuid())
        root.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(root)
    except OSError:
        return None  # no temporary folder can be written (tempfile found none)
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077:
        return root
    try:
        fresh = Path(tempfile.mkdtemp(prefix="rechallenge-"))
    except OSError:
        return None
    notes.append(f"{root} is not a private folder of this user; library caches go to {fresh} "
                 f"for this command only (remove or fix {root} to keep them between commands)")
    return fresh


# ---- where each library writes ----------------------------------------------------------------

@dataclass(frozen=True)
class _Cache:
    """A library's cache folder: where it is now, and how it is pointed elsewhere."""

    library: str
    name: str  # the subfolder of the private folder
    setting: str  # the environment variable that moves it
    folder: Callable[[MutableMapping[str, str]], Path | None]
    point: Callable[[MutableMapping[str, str], Path], None]


def _home(environ: MutableMapping[str, str]) -> Path | None:
    if environ.get("HOME"):
        return Path(environ["HOME"])
    try:
        return Path.home()
    except RuntimeError:  # no HOME and no password entry: every home cache is unwritable
        return None


def _under_home(environ: MutableMapping[str, str], *parts: str) -> Path | None:
    home = _home(environ)
    return None if home is None else home.joinpath(*parts)


def _xdg_cache(environ: MutableMapping[str, str]) -> Path | None:
    """ArviZ's (platformdirs'), numba's and Matplotlib's cache root."""
    if environ.get("XDG_CACHE_HOME"):
        return Path(environ["XDG_CACHE_HOME"])
    return _under_home(environ, *(("Library", "Caches") if sys.platform == "darwin"
                                  else (".cache",)))


def _matplotlib(environ: MutableMapping[str, str]) -> Path | None:
    """Matplotlib's configuration folder (also its cache folder when ``MPLCONFIGDIR`` is set)."""
    if environ.get("MPLCONFIGDIR"):
        return Path(environ["MPLCONFIGDIR"])
    if sys.platform.startswith(("linux", "freebsd")):
        config = (Path(environ["XDG_CONFIG_HOME"]) if environ.get("XDG_CONFIG_HOME")
                  else _under_home(environ, ".config"))
        return None if config is None else config / "matplotlib"
    return _under_home(environ, ".matplotlib")


def _pytensor_flags(environ: MutableMapping[str, str]) -> dict[str, str]:
    """``PYTENSOR_FLAGS`` as PyTensor reads it (comma-separated ``key=value``, shell quoting)."""
    splitter = shlex.shlex(environ.get("PYTENSOR_FLAGS", ""), posix=True)
    splitter.whitespace, splitter.whitespace_split = ",", True
    try:
        pairs = [item.strip().split("=", 1) for item in splitter]
    except ValueError:  # unbalanced quotes: PyTensor reports it itself
        return {}
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def _pytensor(environ: MutableMapping[str, str]) -> Path | None:
    """PyTensor's compile folder: from ``PYTENSOR_FLAGS``, else ``$HOME/.pytensor``.

    A compile folder set in a ``.pytensorrc`` file is the user's choice and left alone.
    """
    flags = _pytensor_flags(environ)
    for key in ("compiledir", "base_compiledir"):
        if flags.get(key):
            return Path(flags[key]).expanduser()
    rc_files = environ.get("PYTENSORRC", str(_under_home(environ, ".pytensorrc") or ""))
    for name in filter(None, rc_files.split(os.pathsep)):
        try:
            if "compiledir" in Path(name).expanduser().read_text(errors="replace"):
                return None
        except (OSError, ValueError):
            continue
    return _under_home(environ, ".pytensor")


def _point_pytensor(environ: MutableMapping[str, str], folder: Path) -> None:
    # Later entries win in PyTensor's parser; an explicit compiledir is replaced as such.
    key = "compiledir" if _pytensor_flags(environ).get("compiledir") else "base_compiledir"
    flags = environ.get("PYTENSOR_FLAGS", "").strip().strip(",")
    environ["PYTENSOR_FLAGS"] = ",".join(filter(None, (flags, f"{key}={shlex.quote(str(folder))}")))


def _set(name: str) -> Callable[[MutableMapping[str, str], Path], None]:
    def point(environ: MutableMapping[str, str], folder: Path) -> None:
        environ[name] = str(folder)
    return point


def _given(name: str) -> Callable[[MutableMapping[str, str]], Path | None]:
    """A folder only the user's own setting names (the library's default needs no home)."""
    return lambda environ: Path(environ[name]) if environ.get(name) else None


def _jax_cache(environ: MutableMapping[str, str]) -> Path | None:
    """The JAX compilation cache folder the user named (rechallenge.models.jax_backend)."""
    for name in ("RECHALLENGE_JAX_CACHE_DIR", "JAX_COMPILATION_CACHE_DIR"):
        if environ.get(name):
            return Path(environ[name])
    return None


#: The caches, in order: XDG_CACHE_HOME first, as Matplotlib's cache folder depends on it.
_CACHES = (
    _Cache("ArviZ (and numba's user cache)", "cache", "XDG_CACHE_HOME", _xdg_cache,
           _set("XDG_CACHE_HOME")),
    _Cache("Matplotlib", "matplotlib", "MPLCONFIGDIR", _matplotlib, _set("MPLCONFIGDIR")),
    _Cache("PyTensor", "pytensor", "PYTENSOR_FLAGS", _pytensor, _point_pytensor),
    _Cache("numba", "numba", "NUMBA_CACHE_DIR", _given("NUMBA_CACHE_DIR"),
           _set("NUMBA_CACHE_DIR")),
    _Cache("Dask", "dask", "DASK_TEMPORARY_DIRECTORY", _given("DASK_TEMPORARY_DIRECTORY"),
           _set("DASK_TEMPORARY_DIRECTORY")),
    # JAX's compilation cache of the "jax" backend: by default under XDG_CACHE_HOME (above);
    # a folder the user named is moved through the package's own setting, which wins.
    _Cache("JAX", "jax", "RECHALLENGE_JAX_CACHE_DIR", _jax_cache,
           _set("RECHALLENGE_JAX_CACHE_DIR")),
)

"""Artefact directories: ``root / layout-with-{fields} / *parts``, never outside ``root``.

Each substituted value and each extra part is sanitised to ``[A-Za-z0-9._-]`` (NFKD, then runs of
anything else become ``_``, leading/trailing ``.`` and ``_`` stripped); a value that sanitises to
nothing is an error. The layout's literal text may hold ``/`` separators but no ``..``, ``.`` or empty
segment, no absolute path, no backslash and no NUL. Finally the resolved path (symlinks followed) is
checked to lie inside the resolved root. Sanitising is lossy (``a b`` and ``a/b`` both give ``a_b``), so
keep ``{uuid}`` in layouts where distinct runs must get distinct directories.

Also the rule for local files pgtrack trusts (a config file, the spill directory and its files), like
git's ``safe.directory``: a file or directory is used only when the current user (``os.geteuid()``)
owns it, no one else may write it, and it is what it claims to be (a regular file, a real directory,
never a symbolic link). Anything else may have been planted by another local user in a shared
directory such as ``/tmp``. Files are opened with ``O_NOFOLLOW`` and checked on the open descriptor,
so swapping the path between the check and the read gains nothing.
"""
from __future__ import annotations

import errno
import os
import re
import stat
import unicodedata
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def sanitise_for_path(value: Any) -> str:
    """One safe path component from any value; ValueError if nothing is left."""
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    if not text:
        raise ValueError(f"{value!r} sanitises to an empty path component")
    return text


def _check_literal(layout: str) -> None:
    if "\x00" in layout or "\\" in layout:
        raise ValueError(f"artefacts layout {layout!r} must not contain NUL or backslashes")
    if layout.startswith("/") or re.match(r"^[A-Za-z]:", layout):
        raise ValueError(f"artefacts layout {layout!r} must be relative to the root")
    literal = _PLACEHOLDER.sub("x", layout)
    if "{" in literal or "}" in literal:
        raise ValueError(f"artefacts layout {layout!r} has a malformed placeholder; use {{field}}")
    if any(segment in ("", ".", "..") for segment in literal.split("/")):
        raise ValueError(f"artefacts layout {layout!r} has an empty, '.' or '..' segment")


def substitute_layout(layout: str, values: Mapping[str, Any]) -> str:
    """The layout with every ``{name}`` replaced by the sanitised value."""
    _check_literal(layout)

    def value_of(match: "re.Match[str]") -> str:
        name = match.group(1)
        if name not in values or values[name] is None:
            raise ValueError(f"artefacts layout {layout!r}: run has no value for {{{name}}}")
        return sanitise_for_path(values[name])

    return _PLACEHOLDER.sub(value_of, layout)


def artefacts_path(root: Union[str, os.PathLike, None], layout: str, values: Mapping[str, Any],
                   parts: Iterable[Any] = (), mkdir: bool = False) -> Path:
    """``root / substituted layout / sanitised parts``, proven to stay inside ``root``."""
    if root is None or str(root) == "" or "\x00" in str(root):
        raise ValueError("artefacts_dir needs a root directory (argument, or artefacts_root in the schema)")
    base = Path(root).expanduser().resolve()
    path = base.joinpath(substitute_layout(layout, values), *(sanitise_for_path(p) for p in parts))
    resolved = path.resolve()
    if os.path.commonpath([str(base), str(resolved)]) != str(base):
        raise ValueError(f"artefacts path {resolved} would escape the root {base}")
    if mkdir:
        resolved.mkdir(parents=True, exist_ok=True)
    return resolved


class UntrustedFile(PermissionError):
    """A local file or directory pgtrack refuses to trust (see the module docstring)."""

    def __init__(self, path: Union[str, os.PathLike], reason: str):
        super().__init__(f"refusing {path}: {reason}")
        self.path, self.reason = str(path), reason  # not .filename: OSError's str() would show it oddly


def _user(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def why_untrusted(info: os.stat_result, directory: bool = False) -> Optional[str]:
    """None when ``info`` (from lstat or fstat) is a regular file (a directory: a real one) of the
    current user that neither group nor others may write; else the reason, in words."""
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link"
    if not (stat.S_ISDIR if directory else stat.S_ISREG)(info.st_mode):
        return "it is not a directory" if directory else "it is not a regular file"
    if info.st_uid != os.geteuid():
        return f"it belongs to {_user(info.st_uid)}, not to you, {_user(os.geteuid())}"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"others may write it (mode {stat.filemode(info.st_mode)})"
    return None


def check_private_directory(path: Union[str, os.PathLike]) -> None:
    """UntrustedFile unless ``path`` (not followed if it is a link) passes :func:`why_untrusted`."""
    reason = why_untrusted(os.lstat(path), directory=True)
    if reason:
        raise UntrustedFile(path, reason)


def read_private_text(path: Union[str, os.PathLike]) -> str:
    """The UTF-8 text of ``path``: opened without following a symbolic link (and without blocking on
    a FIFO), checked on the open descriptor with :func:`why_untrusted`, then read from it.
    FileNotFoundError if missing, UntrustedFile if refused, ValueError if not UTF-8."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # O_NOFOLLOW met a link (EMLINK on FreeBSD)
            raise UntrustedFile(path, "it is a symbolic link") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        reason = why_untrusted(os.fstat(handle.fileno()))
        if reason:
            raise UntrustedFile(path, reason)
        data = handle.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text (byte {exc.start})") from None

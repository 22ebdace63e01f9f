"""The walk of the log folder: which entries are log files to read, and why every other one is not.

Nothing here opens a file: non-regular files (a FIFO would block a read forever) are listed, not
read, a symlink is followed only inside the log folder, and a folder is walked once, so a loop of
links or a second link to a folder is listed rather than followed.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat as stat_module
from dataclasses import dataclass, field
from pathlib import Path

from slo_assets.ingest.config import DEFAULT_EXCLUDE, DEFAULT_INCLUDE

# Reasons an entry is skipped (shown in the index, its check and the run summary).
SKIP_HIDDEN = "hidden (name starts with '.')"
SKIP_SYMLINK = "symlink (follow_symlinks is off)"
SKIP_SYMLINK_OUTSIDE = "symlink to a path outside the log folder"  # then ": <the target>"
SKIP_SYMLINK_LOOP = "symlink loop"
SKIP_NOT_MATCHED = "matches no include pattern"


class LogDiscoveryError(ValueError):
    """The log root cannot be read; the message names it."""


@dataclass(frozen=True)
class Discovery:
    """What a walk of the log folder found: the files to read, and everything else with its reason."""

    files: list[Path]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path relative to the root, reason)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # files or folders that raised OSError
    # of each of `files`, in order: its path relative to the root and the stat the walk took (one stat a file)
    found: list[tuple[Path, str, os.stat_result]] = field(default_factory=list)


def os_reason(error: OSError) -> str:
    """An OSError as a short reason, without the path (the caller names the file)."""
    name = type(error).__name__
    return f"{name}: {error.strerror}" if error.strerror else f"{name}: {error}"


def _kind(mode: int) -> str:
    for test, label in ((stat_module.S_ISFIFO, "FIFO"), (stat_module.S_ISSOCK, "socket"), (stat_module.S_ISCHR, "character device"),
                        (stat_module.S_ISBLK, "block device"), (stat_module.S_ISDIR, "folder")):
        if test(mode):
            return label
    return "special file"


class _Patterns:
    """Include or exclude patterns, matched as fnmatch does, each compiled once (fnmatch per file and
    pattern cost 2 us)."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.compiled = [(pattern, "/" in pattern, re.compile(fnmatch.translate(os.path.normcase(pattern))).match)
                         for pattern in patterns]

    def first(self, name: str, rel: str) -> str | None:
        """The first pattern matching the file name (or, for patterns with '/', its relative path)."""
        for pattern, on_rel, match in self.compiled:
            if match(os.path.normcase(rel if on_rel else name)):
                return pattern
        return None

def discover_files(root: Path, include: tuple[str, ...] = DEFAULT_INCLUDE, exclude: tuple[str, ...] = DEFAULT_EXCLUDE,
                   follow_symlinks: bool = True) -> Discovery:
    """Regular files under `root` matching `include` and no `exclude` pattern, sorted by relative path.

    Hidden files and folders are skipped, and so is anything that is not a regular file (a FIFO
    would block a read forever). A symlink, to a file or a folder, is followed when it resolves
    inside the root (logrotate and /var/log/pods are made of them) and refused, naming its target,
    when it leads outside; a folder is walked once, so a loop or a second link to it is listed, not
    followed. Without `follow_symlinks` every symlink is listed, never read. Every skipped entry and
    every folder or file that cannot be read is listed with its reason.
    """
    root = Path(root)
    if not root.is_dir():
        raise LogDiscoveryError(f"log folder {root} does not exist or is not a folder")
    walk = _Walk(root, include, exclude, follow_symlinks)
    walk.folders(root, ".")
    walk.linked_folders()
    return walk.discovery()


class _Walk:
    """One walk of the log folder: the files found so far, and every entry skipped or unreadable."""

    def __init__(self, root: Path, include: tuple[str, ...], exclude: tuple[str, ...], follow_symlinks: bool) -> None:
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self.include = _Patterns(include)
        self.exclude = _Patterns(exclude)
        self.follow_symlinks = follow_symlinks
        self.found: list[tuple[Path, str, os.stat_result]] = []
        self.skipped: list[tuple[str, str]] = []
        self.unreadable: list[tuple[str, str]] = []
        self.walked: dict[tuple[int, int], str] = {}  # (device, inode) of each folder walked -> its relative path
        self.linked: list[tuple[Path, str]] = []  # symlinked folders, walked after every real one so those keep their own names

    def folders(self, start: Path, start_rel: str) -> None:
        """Walk `start` and the real folders under it, depth first in name order."""
        folders = [(start, start_rel)]
        while folders:
            folder, rel_folder = folders.pop()
            entries = self._listing(folder, rel_folder)
            if entries is None:
                continue
            subfolders: list[tuple[Path, str]] = []
            for entry in entries:
                self._entry(entry, rel_folder, subfolders)
            folders.extend(reversed(subfolders))

    def _listing(self, folder: Path, rel_folder: str) -> list[os.DirEntry] | None:
        """The folder's entries in name order; None (and listed) when it was walked before or cannot be read."""
        try:
            info = os.stat(folder)
            if (seen := self.walked.get((info.st_dev, info.st_ino))) is not None:  # a loop (or a bind mount) leads here again
                self.skipped.append((rel_folder + "/", _already_walked(rel_folder, seen)))
                return None
            self.walked[(info.st_dev, info.st_ino)] = rel_folder
            with os.scandir(folder) as listing:
                return sorted(listing, key=lambda e: e.name)
        except OSError as error:  # an unreadable folder: listed, the walk goes on
            self.unreadable.append((rel_folder + "/", os_reason(error)))
            return None

    def _entry(self, entry: os.DirEntry, rel_folder: str, subfolders: list[tuple[Path, str]]) -> None:
        """Judge one entry of a folder: a real folder joins `subfolders`, a linked one `linked`."""
        path = Path(entry.path)
        rel = entry.name if rel_folder == "." else f"{rel_folder}/{entry.name}"
        try:
            is_link, is_dir = entry.is_symlink(), entry.is_dir()
        except OSError:  # a loop of links or a gone target: judged as a file, where the reason is found
            is_link, is_dir = True, False
        if entry.name.startswith("."):
            self.skipped.append((rel + "/" if is_dir else rel, SKIP_HIDDEN))
        elif is_dir and not is_link:
            subfolders.append((path, rel))
        elif is_dir:
            if self.follow_symlinks:
                self.linked.append((path, rel))
            else:
                self.skipped.append((rel + "/", SKIP_SYMLINK))
        elif (pattern := self.exclude.first(entry.name, rel)) is not None:
            self.skipped.append((rel, f"excluded by pattern {pattern!r}"))
        elif self.include.first(entry.name, rel) is None:
            self.skipped.append((rel, SKIP_NOT_MATCHED))
        elif is_link and not self.follow_symlinks:
            self.skipped.append((rel, SKIP_SYMLINK))
        else:
            self._file(path, rel, is_link)

    def _file(self, path: Path, rel: str, is_link: bool) -> None:
        try:
            if is_link and (refused := _refused_link(path, self.real_root)) is not None:
                self.skipped.append((rel, refused))
                return
            info = os.stat(path)
        except OSError as error:
            self.unreadable.append((rel, os_reason(error)))
            return
        if not stat_module.S_ISREG(info.st_mode):
            self.skipped.append((rel, f"not a regular file ({_kind(info.st_mode)})"))
            return
        self.found.append((path, rel, info))

    def linked_folders(self) -> None:
        """Walk the symlinked folders found, each one whose target is inside the root."""
        while self.linked:  # in path order, each walk adding the links it finds: the same walk every time
            self.linked.sort(key=lambda link: link[1], reverse=True)
            path, rel = self.linked.pop()
            try:
                refused = _refused_link(path, self.real_root)
            except OSError as error:
                self.unreadable.append((rel + "/", os_reason(error)))
                continue
            if refused is not None:
                self.skipped.append((rel + "/", refused))
            else:
                self.folders(path, rel)

    def discovery(self) -> Discovery:
        found = sorted(self.found, key=lambda entry: entry[1])
        return Discovery(files=[path for path, _, _ in found], skipped=sorted(self.skipped), unreadable=sorted(self.unreadable),
                         found=found)


def _refused_link(path: Path, real_root: Path) -> str | None:
    """Why the symlink at `path` is not followed (a loop of links, a target outside the root), else
    None; OSError when its target cannot be reached (a dangling link)."""
    try:
        target = Path(os.path.realpath(path, strict=True))
    except OSError as error:
        if error.errno == errno.ELOOP:
            return SKIP_SYMLINK_LOOP
        raise
    if not target.is_relative_to(real_root):
        return f"{SKIP_SYMLINK_OUTSIDE}: {target}"
    return None


def _already_walked(rel: str, seen: str) -> str:
    """Why the folder at `rel`, walked before as `seen`, is not walked again."""
    where = "the log folder" if seen == "." else f"{seen}/"
    if seen == "." or rel.startswith(seen + "/"):
        return f"{SKIP_SYMLINK_LOOP}: leads back to {where}, which holds it"
    return f"the folder read as {where} (read once)"


def discover(root: Path, include: tuple[str, ...] = DEFAULT_INCLUDE, follow_symlinks: bool = True,
             exclude: tuple[str, ...] = DEFAULT_EXCLUDE) -> list[Path]:
    """The files `discover_files` would read."""
    return discover_files(root, include, exclude, follow_symlinks).files

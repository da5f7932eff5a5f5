"""Download a dataset zip, check its SHA-256 and extract it safely into a new folder.

The archive is streamed to an unnamed temporary file beside --out and its SHA-256 compared with
--sha256 before it is opened. Every member is then checked before anything is written: absolute
paths, '..' components, symbolic links and other special files are refused, so nothing can land
outside --out. --strip-components N drops the first N path components of every member, as tar
does (members with nothing left are skipped). Files are extracted into a hidden folder beside
--out, renamed to --out at the end: a failed or killed run leaves no half dataset.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from segsweep.data.staging import require_new_dir, staged_dir
from segsweep.errors import DataError, UserError

_CHUNK = 1 << 20


def _fetch(url: str, sink: BinaryIO, timeout: float) -> str:
    """Stream `url` into `sink`; return the SHA-256 of what was written."""
    import requests  # only this step needs it

    digest = hashlib.sha256()
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            response.raise_for_status()
            for chunk in response.iter_content(_CHUNK):
                sink.write(chunk)
                digest.update(chunk)
    except requests.RequestException as error:
        raise UserError(f"cannot download {url}: {error}") from None
    return digest.hexdigest()


def _plan(archive: zipfile.ZipFile, strip: int, source: str) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Where each member goes, relative to the output folder; refuses the whole archive if any
    member could write outside it, so that a bad archive writes nothing at all."""
    plan: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    taken: dict[PurePosixPath, str] = {}
    for info in archive.infolist():
        name = info.filename
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK:
            raise DataError(f"{source}: member {name!r} is a symbolic link; refusing to extract the archive")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise DataError(f"{source}: member {name!r} is not a regular file or folder; refusing to extract")
        path = PurePosixPath(name.replace("\\", "/"))
        if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
            raise DataError(f"{source}: member {name!r} has an absolute path; refusing to extract the archive")
        if ".." in path.parts:
            raise DataError(f"{source}: member {name!r} has a '..' component; refusing to extract the archive")
        parts = path.parts[strip:]
        if not parts:
            continue
        target = PurePosixPath(*parts)
        if not info.is_dir():
            if target in taken:
                raise DataError(f"{source}: members {taken[target]!r} and {name!r} both extract to {target}")
            taken[target] = name
        plan.append((info, target))
    if not taken:
        raise DataError(f"{source}: no files left to extract after stripping {strip} path components")
    return plan


def extract_zip(archive_file: BinaryIO | Path, out: Path, strip_components: int = 0, source: str | None = None) -> None:
    """Extract a zip into the new folder `out` (see the module docstring); `source` names the
    archive in messages (default: the file)."""
    source = source or str(archive_file)
    if strip_components < 0:
        raise UserError(f"--strip-components must be 0 or more, got {strip_components}")
    try:
        with zipfile.ZipFile(archive_file) as archive:
            plan = _plan(archive, strip_components, source)
            with staged_dir(out) as staging:
                for info, target in plan:
                    path = staging.joinpath(*target.parts)
                    if info.is_dir():
                        path.mkdir(parents=True, exist_ok=True)
                        continue
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(info) as member, open(path, "xb") as sink:
                        shutil.copyfileobj(member, sink, _CHUNK)
    except zipfile.BadZipFile as error:
        raise DataError(f"{source}: not a valid zip archive: {error}") from None


def download(url: str, sha256: str, out: Path, strip_components: int = 0, timeout: float = 60.0) -> None:
    """Fetch `url`, verify it against `sha256`, and extract it into the new folder `out`."""
    expected = sha256.lower()
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise UserError(f"--sha256 must be 64 hexadecimal digits, got {sha256!r}")
    out = Path(out)
    require_new_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=out.parent, prefix=f".{out.name}.download-") as archive:
        actual = _fetch(url, archive, timeout)
        if actual != expected:
            raise DataError(
                f"{url}: SHA-256 mismatch: expected {expected}, got {actual} "
                "(a corrupt download, or the archive at this address has changed)"
            )
        archive.seek(0)
        extract_zip(archive, out, strip_components, source=url)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="http(s) address of a .zip archive")
    parser.add_argument("--sha256", required=True, help="expected SHA-256 of the archive (64 hex digits)")
    parser.add_argument("--strip-components", type=int, default=0, help="leading path components to drop (as tar)")
    parser.add_argument("--out", type=Path, required=True, help="dataset folder to create (must not hold files)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the server (default 60)")


def run(args: argparse.Namespace) -> None:
    download(args.url, args.sha256, args.out, args.strip_components, args.timeout)
    print(f"downloaded {args.url} (SHA-256 verified) into {args.out}")

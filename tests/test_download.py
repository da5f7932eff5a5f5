"""Download, checksum and safe extraction, against archives served on 127.0.0.1."""

from __future__ import annotations

import hashlib
import threading
import zipfile
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from segsweep import cli
from segsweep.data.download import download
from segsweep.errors import DataError, UserError


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1, and its base address; the server stops afterwards."""
    root = tmp_path / "served"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def make_zip(path: Path, members: list[tuple[str, bytes] | zipfile.ZipInfo]) -> str:
    """Write a zip of (name, data) members (or ZipInfo with data); return its SHA-256."""
    with zipfile.ZipFile(path, "w") as archive:
        for member in members:
            info, data = (member, member.comment) if isinstance(member, zipfile.ZipInfo) else member
            archive.writestr(info, data)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def symlink(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    info.comment = target.encode()
    return info


GOOD = [
    ("kitti/training/image_2/a.png", b"image"),
    ("kitti/training/semantic/a.png", b"label"),
    ("kitti/README", b"hi"),
]


def everything_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_good_archive_is_verified_and_extracted_with_strip_components(served: tuple[Path, str], tmp_path: Path) -> None:
    root, base = served
    digest = make_zip(root / "data.zip", GOOD)
    out = tmp_path / "results" / "data"
    download(f"{base}/data.zip", digest.upper(), out, strip_components=1)
    assert (out / "training" / "image_2" / "a.png").read_bytes() == b"image"
    assert (out / "README").read_bytes() == b"hi"
    assert everything_under(tmp_path / "results") == {
        "data", "data/README", "data/training", "data/training/image_2", "data/training/semantic",
        "data/training/image_2/a.png", "data/training/semantic/a.png",
    }  # fmt: skip
    assert not [p for p in (tmp_path / "results").iterdir() if p.name.startswith(".")], "no staging left behind"


def test_wrong_checksum_names_url_expected_and_actual(served: tuple[Path, str], tmp_path: Path) -> None:
    root, base = served
    actual = make_zip(root / "data.zip", GOOD)
    expected = "0" * 64
    out = tmp_path / "results" / "data"
    with pytest.raises(DataError) as error:
        download(f"{base}/data.zip", expected, out)
    assert f"{base}/data.zip" in str(error.value) and expected in str(error.value) and actual in str(error.value)
    assert list((tmp_path / "results").iterdir()) == []


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (("kitti/../../escaped.txt", b"x"), "'..' component"),
        (("../escaped.txt", b"x"), "'..' component"),
        (("kitti\\..\\..\\escaped.txt", b"x"), "'..' component"),
        (("/ABSOLUTE/escaped.txt", b"x"), "absolute path"),
        (("C:/escaped.txt", b"x"), "absolute path"),
        (symlink("kitti/link", "../../escaped.txt"), "symbolic link"),
    ],
    ids=["dotdot-inside", "dotdot-first", "dotdot-backslashes", "absolute", "windows-drive", "symlink"],
)
def test_unsafe_members_are_refused_and_nothing_is_written(
    served: tuple[Path, str], tmp_path: Path, member, message: str
) -> None:
    root, base = served
    if isinstance(member, tuple) and member[0].startswith("/ABSOLUTE"):
        member = (str(tmp_path / "escaped.txt"), member[1])
    digest = make_zip(root / "bad.zip", [*GOOD, member])
    out = tmp_path / "a" / "b" / "data"
    before = everything_under(tmp_path)
    with pytest.raises(DataError, match=message) as error:
        download(f"{base}/bad.zip", digest, out, strip_components=1)
    assert f"{base}/bad.zip" in str(error.value)
    assert everything_under(tmp_path) == before | {"a", "a/b"}
    assert not list(tmp_path.rglob("escaped.txt"))


@pytest.mark.parametrize(
    ("fetch", "error", "message"),
    [
        (lambda base, root: (f"{base}/missing.zip", "0" * 64), UserError, "404"),
        (lambda base, root: (f"{base}/data.zip", "abc"), UserError, "64 hexadecimal digits"),
        (lambda base, root: (f"{base}/notzip.zip", hashlib.sha256(b"plain text").hexdigest()), DataError,
         "not a valid zip archive"),
        (lambda base, root: (f"{base}/data.zip", make_zip(root / "data.zip", GOOD)), DataError,
         "no files left to extract after stripping 4"),
    ],
    ids=["http-404", "bad-checksum-syntax", "not-a-zip", "nothing-left-after-strip"],
)  # fmt: skip
def test_other_failures_are_reported(
    served: tuple[Path, str], tmp_path: Path, fetch: Callable, error: type, message: str
) -> None:
    root, base = served
    (root / "notzip.zip").write_bytes(b"plain text")
    url, digest = fetch(base, root)
    out = tmp_path / "out" / "data"
    with pytest.raises(error, match=message):
        download(url, digest, out, strip_components=4)
    assert not out.exists()


def test_cli_refuses_a_non_empty_output_folder(
    served: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root, base = served
    digest = make_zip(root / "data.zip", GOOD)
    out = tmp_path / "data with spaces é"
    args = ["download", "--url", f"{base}/data.zip", "--sha256", digest, "--strip-components", "1", "--out", str(out)]
    assert cli.main(args) == 0
    assert (out / "training" / "semantic" / "a.png").read_bytes() == b"label"
    assert cli.main(args) == 2
    assert "already exists and is not empty" in capsys.readouterr().err

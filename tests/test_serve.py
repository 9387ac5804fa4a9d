"""The local server of `sstsal view` (sstsal.viewing.serve): 127.0.0.1 only, one folder, byte ranges."""

from __future__ import annotations

import subprocess
import sys
import threading
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

from sstsal.errors import InputError
from sstsal.viewing.serve import page_url, viewer_folder, viewer_server


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "results" / "clip"
    folder.mkdir(parents=True)
    (folder / "viewer.html").write_text("<!doctype html><title>viewer</title>")
    body = bytes(range(256)) * 40  # 10240 bytes, every offset recognisable
    (folder / "viewer.mp4").write_bytes(body)
    (tmp_path / "results" / "secret.txt").write_text("not for the browser")
    server = viewer_server(folder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, page_url(server).rsplit("/", 1)[0], body
    server.shutdown()
    server.server_close()


def get(url: str, range_: str | None = None):
    request = Request(url, headers={"Range": range_} if range_ else {})
    try:
        with urlopen(request) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except HTTPError as error:
        return error.code, dict(error.headers), b""


def test_listens_on_this_computer_only(served):
    server, base, _ = served
    assert server.server_address[0] == "127.0.0.1" and base.startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    ("range_", "start", "end"),
    [("bytes=100-199", 100, 199), ("bytes=10000-", 10000, 10239), ("bytes=-40", 10200, 10239), ("bytes=10200-99999", 10200, 10239)],
)
def test_byte_ranges(served, range_, start, end):
    _, base, body = served
    status, headers, data = get(f"{base}/viewer.mp4", range_)
    assert status == 206 and data == body[start : end + 1]
    assert headers["Content-Range"] == f"bytes {start}-{end}/{len(body)}"
    assert headers["Content-Length"] == str(end - start + 1) and headers["Content-Type"] == "video/mp4"


def test_whole_file_and_unsatisfiable_range(served):
    _, base, body = served
    status, headers, data = get(f"{base}/viewer.mp4")
    assert status == 200 and data == body and headers["Accept-Ranges"] == "bytes"
    status, headers, _ = get(f"{base}/viewer.mp4", "bytes=20000-")
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(body)}"


def test_nothing_above_the_folder(served):
    _, base, _ = served
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/missing.mp4"):
        status, _, data = get(base + path)
        assert status == 404 and b"not for the browser" not in data, path


def test_folder_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        viewer_folder(tmp_path / "nothing")
    with pytest.raises(InputError, match="holds no viewer.html"):
        viewer_folder(tmp_path)
    (tmp_path / "viewer.html").write_text("page")
    assert viewer_folder(tmp_path / "viewer.html") == (tmp_path.resolve(), "viewer.html")


def test_cli_error_is_one_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "sstsal", "view", str(tmp_path), "--no-browser"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2 and run.stderr.strip().count("\n") == 0, run.stderr
    assert run.stderr.startswith("error:") and "holds no viewer.html" in run.stderr

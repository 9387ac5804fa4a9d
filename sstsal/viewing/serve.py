"""A small local web server for a viewer page whose video lives beside it (``sstsal view``).

Chromium shows a video as a WebGL texture only when it comes from the page's own origin, and a
``file://`` page has none, so a page too large to carry its video plays ``viewer.mp4`` through
this server. It listens on 127.0.0.1 only, serves one results folder and nothing above it, and
answers Range requests (206 Partial Content), which a browser makes to seek in a long video
without downloading it first. Python's ``http.server``; no dependency.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sstsal.errors import InputError

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"  # this machine only: the results are not offered to the network
PAGE = "viewer.html"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """``SimpleHTTPRequestHandler`` with single byte ranges (``Range: bytes=a-b``, ``bytes=a-``,
    ``bytes=-n``), as ``<video>`` asks for them."""

    _range: tuple[int, int] | None = None

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-cache")  # a rerun of the workflow replaces the files
        super().end_headers()

    def send_head(self):
        self._range = None
        wanted = self.headers.get("Range")
        path = self.translate_path(self.path)
        if wanted is None or os.path.isdir(path):
            return super().send_head()
        match = _RANGE.fullmatch(wanted.strip())
        try:
            handle = open(path, "rb")
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        size = os.fstat(handle.fileno()).st_size
        if match is None or match.group(1) == match.group(2) == "":
            return self._whole(handle, path, size)  # a form we do not serve in part: the whole file
        if match.group(1):
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
        else:  # the last n bytes
            start, end = max(0, size - int(match.group(2))), size - 1
        if start >= size or start > end:
            handle.close()
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        handle.seek(start)
        self._range = (start, end)
        return handle

    def _whole(self, handle, path: str, size: int):
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Length", str(size))
        self.end_headers()
        return handle

    def copyfile(self, source, outputfile) -> None:
        try:
            if self._range is None:
                shutil.copyfileobj(source, outputfile)
                return
            left = self._range[1] - self._range[0] + 1
            while left > 0:
                piece = source.read(min(left, 1 << 16))
                if not piece:
                    break
                outputfile.write(piece)
                left -= len(piece)
        except (BrokenPipeError, ConnectionResetError):  # the browser seeked elsewhere and hung up
            pass

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        logger.debug("%s %s", self.address_string(), format % args)


def viewer_folder(target: str | os.PathLike) -> tuple[Path, str]:
    """The folder to serve and the page in it, from ``results/NAME`` or ``results/NAME/viewer.html``."""
    target = Path(target)
    folder, page = (target.parent, target.name) if target.suffix == ".html" else (target, PAGE)
    if not folder.is_dir():
        raise InputError(f"{folder} does not exist: give a video's results folder, e.g. results/NAME")
    if not (folder / page).is_file():
        raise InputError(f"{folder} holds no {page}: run the workflow (viewer.enabled) or sstsal viewer first")
    return folder.resolve(), page


def viewer_server(folder: str | os.PathLike, *, port: int = 0) -> ThreadingHTTPServer:
    """A server of ``folder`` on 127.0.0.1:``port`` (0: any free port), bound, not yet serving:
    call ``serve_forever()`` (and ``server_close()`` after)."""
    handler = partial(RangeRequestHandler, directory=str(folder))
    try:
        server = ThreadingHTTPServer((HOST, port), handler)
    except OSError as exc:
        raise InputError(f"cannot listen on {HOST}:{port} ({exc.strerror}): give another --port, or 0 for any free one") from None
    server.daemon_threads = True
    return server


def page_url(server: ThreadingHTTPServer, page: str = PAGE) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/{page}"

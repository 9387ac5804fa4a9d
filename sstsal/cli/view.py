"""``sstsal view``: open a video's viewer page through a small local server (127.0.0.1 only)."""

from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    from sstsal.viewing.serve import page_url, viewer_folder, viewer_server

    folder, page = viewer_folder(args.results)
    server = viewer_server(folder, port=args.port)
    url = page_url(server, page)
    print(f"serving {folder} at {url} (this computer only; Ctrl-C stops)", file=sys.stderr, flush=True)
    if not args.no_browser:
        import webbrowser

        if not webbrowser.open(url):
            print(f"no browser found here: open {url} in one", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "view",
        help="open a video's 360-degree viewer page through a local server (long videos)",
        description="Serve a results folder on 127.0.0.1 (this computer only) and open its viewer.html in the "
        "browser. A page whose video is too large to live inside it plays viewer.mp4 from beside itself, which a "
        "browser allows only through a server; a page that carries its video opens this way too. Seeking is "
        "answered with byte ranges, so a long video is not downloaded first. Ctrl-C stops the server.",
    )
    parser.add_argument("results", help="a video's results folder (results/NAME) or its viewer.html")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    parser.add_argument("--no-browser", action="store_true", help="only print the address, open no browser")
    parser.set_defaults(func=run)

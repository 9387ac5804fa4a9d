"""Where the tests' data is, and how a plain clone gets it from public sources.

:func:`data_root` is the one answer: ``$SSTSAL_SHARED``, else ``../shared`` beside the
repository when it exists (offline machines keep the data there), else a folder in the cache
(``$SSTSAL_CACHE/testdata``) built once from pinned upstream files, each checked by sha256:

- the SST-Sal repository (checkpoints and code) at commit dc6a4ba, no licence file upstream:
  fetched at run time, never committed;
- princeton-vl/RAFT (code and demo frames) at commit 2888e15, BSD-3-Clause;
- the test clip ``testRoom1_1920Mono.mp4`` from googlevr/gvr-android-sdk at commit 3e39e12,
  CC BY 4.0, "testRoom1_1920Mono.mp4 by Google";
- two 360-degree samples of the Google VR SDK (googlevr/gvr-android-sdk, Apache-2.0), real files
  as the SDK ships them (:data:`SAMPLE_VIDEOS`, read with :func:`sample_video`): ``congo.mp4``
  (top-bottom stereo, eyes stored squeezed, V1 metadata) and ``sphericalv2.mp4`` (VR180 camera
  clip, V2 mesh projection plus V1 crop description).
- the raw gaze recording ``rawDataDyn1.csv`` of the Salient360! toolbox (David-Ef/salient360Toolbox)
  at commit aff27d9, MIT.

URLs are GitHub's, under ``SSTSAL_UPSTREAM`` (:mod:`sstsal.published`); the golden fixtures
are then rebuilt by running the published code (:mod:`golden`). The built folder has the
layout of ``../shared``: ``models/``, ``videos/``, ``gaze/``, ``fixtures/``, plus ``sources/``.

    python tests/testdata.py fetch [--out DIR]          # what a plain clone's first test run does
    python tests/testdata.py compare BUILT REFERENCE    # a rebuilt fixtures folder against another
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:  # the fixture builder beside this file (tests/ is not a package)
    sys.path.insert(0, HERE)
# Bump when the built folder's content changes: a new version is built next to the old one.
VERSION = 1
# What a complete built folder holds (written last).
COMPLETE = ".complete"


@dataclass(frozen=True)
class Archive:
    """A GitHub repository at a commit, as GitHub's .tar.gz; ``members``: {path in it: sha256}.

    GitHub may recompress archives, so the files inside are checked, not the archive.
    """

    repo: str
    commit: str
    folder: str  # where it is unpacked under sources/
    members: dict[str, str]


SSTSAL_CODE = Archive(
    "edurnebernal/SST-Sal",
    "dc6a4bae83d5ccd1f305754ffc0a97e3ff5ebbbf",
    "SST-Sal",
    {
        "inference.py": "afca87ed6515f206578b6ea8440cf857581a51e02ecdf8bef4e86153b3cfdae3",
        "DataLoader360Video.py": "01a73b1c5f3a34a4eecbe66281cfdae76e2dd8f9a4a2afa1a759f3600d214e32",
        "models.py": "2a25534f189bca386404f6594efb08d7debb34c41d09a7439609b5bab776c709",
        "Modules.py": "e415bc27e15f514a42413dd2a1ae99b7c5858c7ed9e6331b2294cdb7a2121923",
        "config.py": "f54d7872304f2c7e33eac28797a6454b883feff3b751333ba28e92095372d605",
        "utils.py": "88bee2ec674925b634c3f332277babdc2da42099e4777539c86b3ee7170d88be",
        "spherenet/__init__.py": "35ef4b1e2fd710c00ccc8d2c44dddf1ef03fde99d464972e5f5b284727df1a64",
        "spherenet/sphere_cnn.py": "4e424080c072f0c0d4d0739b0afe56d171d094b88eb29ffea0c530414496695b",
        "spherenet/dataset.py": "37d98c867df7d2f2c8e25523e7743a35c6e5f96744478b3e0162b5c8face2992",
    },
)
RAFT_CODE = Archive(
    "princeton-vl/RAFT",
    "2888e15a51fa41140771d3f498ed8023cff098d1",
    "RAFT",
    {
        "core/raft.py": "e7280b82d0e224eff760ae8de5e8ea68923a7928c1e34920378b6f3a039a8633",
        "core/update.py": "7302f91ffc24c85cf739a25feb17d9d1e537f7344a2ddc331daf8ab9db6c3f74",
        "core/extractor.py": "f6b65d4f4df27001d9c11194f71b84a9799de3231f9d1672cbcf3a052fec79dc",
        "core/corr.py": "66f85489672e8fbf531135b53cda710594cfd1d900e855200e2bf6268dd7264a",
        "core/utils/__init__.py": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "core/utils/utils.py": "125ca33c84f60c19359c875002e9301fe0404b3256c6efec718b26589d7fdd5a",
        "core/utils/flow_viz.py": "72595c16479265fea80add4f1691b4e35321b898f3da0a0f2ee19f6f8d831d26",
        "demo-frames/frame_0016.png": "5a815fe352c27c8fe94e19e5236bef3856ae22b9b9ee0b38ec406ef213faaaff",
        "demo-frames/frame_0017.png": "6c6f31f001dadddb9578dcc03f8bd53a045fe752311a53b9f9bcd1e1a1b2a329",
    },
)
CLIP_REPO = "googlevr/gvr-android-sdk"
CLIP_COMMIT = "3e39e12d08cb69d7bc36e03bf09e2e5d2de45c69"
CLIP_SHA256 = "f37e89498d8e109f10fc4b4a6e90682431890e009b49a9c9c5439642c0a9647f"
CLIP_SIZE = 466796


# {name: (commit, path in the repository, sha256, size)} of the Google VR SDK's 360-degree samples
SAMPLE_VIDEOS = {
    "congo.mp4": ("22bfd77050c8607ef3bd1c60993c066b5a722c46", "samples/sdk-simplevideowidget/src/main/assets/congo.mp4",
                  "c494ac2b397e295930bb9a509efd6132073ba3cf0edbe15c6c19e09fd1381b1c", 2939784),
    "sphericalv2.mp4": ("9f9060f0e0cd5842c96c8f115ed57e39dbfc4a45",
                        "samples/sdk-simplevideowidget/src/main/assets/sphericalv2.mp4",
                        "7ba984c9aa14844811309331cadf28b64b0622dc61ffe70747e544317957f668", 3207538),
}  # fmt: skip


def sample_file(name: str):
    """One of :data:`SAMPLE_VIDEOS` as a :class:`sstsal.published.PublishedFile`."""
    from sstsal.published import PublishedFile, github_raw

    commit, path, sha256, size = SAMPLE_VIDEOS[name]
    return PublishedFile(name, github_raw(CLIP_REPO, commit, path), sha256, size)


def sample_video(name: str) -> Path:
    """The sample ``name`` of :data:`SAMPLE_VIDEOS`: ``<data>/videos/<name>`` when the data folder
    holds it, else fetched once (sha256-checked) from ``SSTSAL_UPSTREAM`` into the cache; a data
    folder with its own ``upstream/`` mirror of GitHub's files (offline machines) is fetched from."""
    from sstsal.published import cache_dir, fetch

    root = data_root()
    local = root / "videos" / name
    if local.is_file():
        return local
    commit, path, _, _ = SAMPLE_VIDEOS[name]
    mirrored = root / "upstream" / CLIP_REPO / "raw" / commit / path
    spec = sample_file(name)
    if not os.environ.get("SSTSAL_UPSTREAM") and mirrored.is_file():
        import dataclasses

        spec = dataclasses.replace(spec, url=mirrored.as_uri())
    return fetch(spec, cache_dir() / "testdata" / "samples" / name)


def clip_file():
    """The test clip as a :class:`sstsal.published.PublishedFile`."""
    from sstsal.published import PublishedFile, github_raw

    path = "assets/videos/testRoom1_1920Mono.mp4"
    return PublishedFile(Path(path).name, github_raw(CLIP_REPO, CLIP_COMMIT, path), CLIP_SHA256, CLIP_SIZE,
                         licence='CC BY 4.0, "testRoom1_1920Mono.mp4 by Google"')  # fmt: skip


GAZE_REPO = "David-Ef/salient360Toolbox"
GAZE_COMMIT = "aff27d9f55752452b4d8fdbac0aa0e6d8297eb48"
GAZE_SHA256 = "2aa29fa6fb176293250556fd07925da48f45a28cb889b0a65eb1f8f4e67da817"
GAZE_SIZE = 1499360


def gaze_file():
    """The Salient360! toolbox's raw gaze recording (MIT) as a :class:`sstsal.published.PublishedFile`."""
    from sstsal.published import PublishedFile, github_raw

    path = "data/raw_gaze/rawDataDyn1.csv"
    return PublishedFile(Path(path).name, github_raw(GAZE_REPO, GAZE_COMMIT, path), GAZE_SHA256, GAZE_SIZE,
                         licence="MIT, Copyright (c) 2022 David-Ef (salient360Toolbox's LICENSE)")  # fmt: skip


def loose_files() -> dict[str, object]:
    """The single published files of the built folder that no fixture is built from: {path in it: file}.

    Fetched with the rest, and by :func:`data_root` into a complete folder built before one was
    added here (no rebuild of the fixtures for a new file).
    """
    gaze = gaze_file()
    return {f"gaze/{gaze.name}": gaze}


def fetch_loose_files(root: Path) -> None:
    """Each of :func:`loose_files` missing under ``root``, sha256-checked."""
    from sstsal.published import fetch

    for relative, spec in loose_files().items():
        if not (root / relative).is_file():
            fetch(spec, root / relative)


# ---- where the data is ------------------------------------------------------------------------------


def built_root() -> Path:
    """The folder a plain clone's data is built in: ``<cache>/testdata/v<VERSION>``."""
    from sstsal.published import cache_dir

    return cache_dir() / "testdata" / f"v{VERSION}"


def data_root(*, build: bool = True) -> Path:
    """``$SSTSAL_SHARED``, else ``../shared`` when present, else the built folder (built now if
    it is not complete and ``build``)."""
    if os.environ.get("SSTSAL_SHARED"):
        return Path(os.environ["SSTSAL_SHARED"]).expanduser().resolve()
    sibling = REPO.parent / "shared"
    if sibling.is_dir():
        return sibling.resolve()
    root = built_root()
    if build and not (root / COMPLETE).is_file():
        fetch_and_build(root)
    elif build:
        fetch_loose_files(root)
    return root


# ---- fetching ---------------------------------------------------------------------------------------


def fetch_archive(archive: Archive, sources: Path, downloads: Path) -> Path:
    """``sources/<folder>/<member>`` for each pinned member of ``archive``, sha256-checked."""
    import urllib.request

    from sstsal.hashing import sha256_of
    from sstsal.published import github_archive, resolve_url

    url = resolve_url(github_archive(archive.repo, archive.commit))
    tarball = downloads / f"{archive.folder}.tar.gz"
    print(f"fetching {url}", file=sys.stderr)
    try:
        with urllib.request.urlopen(url, timeout=120) as response, open(tarball, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except OSError as exc:  # URLError is an OSError
        raise OSError(f"could not download {url} ({exc})") from exc
    top = f"{archive.repo.split('/')[1]}-{archive.commit}"
    target = sources / archive.folder
    with tarfile.open(tarball) as tar:
        for member, sha256 in archive.members.items():
            try:
                handle = tar.extractfile(f"{top}/{member}")
            except KeyError:
                handle = None
            if handle is None:
                raise OSError(f"{url} has no file {member}: is SSTSAL_UPSTREAM a mirror of GitHub's files?")
            path = target / member
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(handle.read())
            if sha256_of(path) != sha256:
                raise OSError(f"{member} in {url} has sha256 {sha256_of(path)}, pinned is {sha256}: refused")
    tarball.unlink()
    return target


def fetch_sources(root: Path) -> Path:
    """The published files under ``root``: models/, videos/ and sources/ (the two repositories)."""
    from sstsal.model.weights import CHECKPOINTS
    from sstsal.published import fetch

    for name, spec in CHECKPOINTS.items():
        fetch(spec, root / "models" / name)
    clip = clip_file()
    fetch(clip, root / "videos" / clip.name)
    for name in SAMPLE_VIDEOS:
        fetch(sample_file(name), root / "videos" / name)
    fetch_loose_files(root)
    sources = root / "sources"
    with tempfile.TemporaryDirectory(dir=root) as downloads:
        for archive in (SSTSAL_CODE, RAFT_CODE):
            fetch_archive(archive, sources, Path(downloads))
    return sources


def fetch_and_build(root: Path) -> Path:
    """Fetch the sources and rebuild the golden fixtures into ``root`` (complete or not there at all)."""
    from golden import build

    root.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        sources = fetch_sources(partial)
        # the builder wants models/ and videos/ beside the code
        for name in ("models", "videos"):
            (sources / name).symlink_to(Path("..") / name)
        print(f"building the golden fixtures in {root} (a few minutes, once)", file=sys.stderr)
        build(sources, partial / "fixtures")
        (partial / COMPLETE).write_text(f"built from {os.environ.get('SSTSAL_UPSTREAM') or 'https://github.com'}\n")
        if (root / COMPLETE).is_file():
            return root  # another run finished first: keep its folder (tests may be reading it)
        if root.exists():
            shutil.rmtree(root)  # an incomplete leftover
        partial.rename(root)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return root


# ---- comparing ---------------------------------------------------------------------------------------


def compare(built: Path, reference: Path, *, raft_rerun: Path | None = None) -> list[str]:
    """Differences of a built fixtures folder from a reference one, beyond the fixtures' tolerances.

    Prints every figure; returns the failures (empty when the two agree). ``raft_rerun``: a
    raft-golden folder rebuilt with the reference's weights (its flows are compared; the
    built folder's own weights are random and differ).
    """
    import cv2

    failures: list[str] = []

    def images(a: Path, b: Path, what: str, tolerance: int, *, allowed_files: int = 0) -> list[int]:
        """Compares the PNGs; returns the indices (in name order) of those that differ at all."""
        names = sorted(p.name for p in b.glob("*.png"))
        if sorted(p.name for p in a.glob("*.png")) != names:
            failures.append(f"{what}: different file names")
            return []
        diffs = [int(np.abs(cv2.imread(str(a / n)).astype(int) - cv2.imread(str(b / n)).astype(int)).max()) for n in names]
        pixels = [int((cv2.imread(str(a / n)) != cv2.imread(str(b / n))).any(axis=2).sum()) for n in names]
        over = [n for n, d in zip(names, diffs, strict=True) if d > tolerance]
        print(f"{what}: {len(names)} images, {len(names) - sum(d > 0 for d in diffs)} identical, max |diff| {max(diffs)}, "
              f"at most {max(pixels)} pixel(s) differ per image")  # fmt: skip
        if len(over) > allowed_files:
            failures.append(f"{what}: {len(over)} images differ by more than {tolerance}: {over[:3]}")
        return [i for i, d in enumerate(diffs) if d > 0]

    gold, ref = built / "sstsal-golden", reference / "sstsal-golden"
    images(gold / "input/frames/001", ref / "input/frames/001", "sstsal-golden frames", 0)
    # OpenCV's DIS gives a pixel or so otherwise on a few images on another CPU
    changed = images(gold / "input/flow/001", ref / "input/flow/001", "sstsal-golden flow images", 0, allowed_files=5)
    frame_names = sorted(p.stem for p in (ref / "input/frames/001").glob("*.png"))
    for kind in ("with_flow", "no_flow"):
        ours, theirs = np.load(gold / "expected" / kind / "raw.npz"), np.load(ref / "expected" / kind / "raw.npz")
        if sorted(ours.files) != sorted(theirs.files):
            failures.append(f"{kind}: predicted frames differ")
            continue
        # A changed flow image changes the maps of its window from that frame on (the LSTM carries
        # it): those are reported, the others must meet the fixture's tolerance.
        affected = set()
        if kind == "with_flow":
            for start in range(0, len(frame_names) - 19, 16):  # the published windows [start, start + 20)
                for j in (j for j in changed if start <= j < start + 20):
                    affected.update(frame_names[j : start + 20])
        diffs = {k: float(np.abs(ours[k] - theirs[k]).max()) for k in theirs.files}
        worst = max(v for k, v in diffs.items() if k not in affected)
        print(f"sstsal-golden {kind}: {len(theirs.files)} raw maps, max |diff| {worst:.2e}"
              + (f" ({max(diffs.values()):.2e} on the {len(affected & set(diffs))} maps after a changed flow image)" if affected else ""))  # fmt: skip
        if worst > 1e-4:
            failures.append(f"{kind}: raw maps differ by {worst:.2e} > 1e-4")
        images(gold / "expected" / kind / "001", ref / "expected" / kind / "001", f"sstsal-golden {kind} maps", 1)
    raft, raft_ref = built / "raft-golden", reference / "raft-golden"
    for case in ("sintel", "room"):
        for n in (1, 2):
            name = f"{case}_frame{n}.png"
            if not np.array_equal(cv2.imread(str(raft / name)), cv2.imread(str(raft_ref / name))):
                failures.append(f"raft-golden {name} differs")
        if raft_rerun is not None:
            worst = float(np.abs(np.load(raft_rerun / f"{case}_flow.npy") - np.load(raft_ref / f"{case}_flow.npy")).max())
            print(f"raft-golden {case} flow with the reference weights: max |diff| {worst:.2e}")
            if worst > 1e-4:
                failures.append(f"raft-golden {case} flow differs by {worst:.2e}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_parser = sub.add_parser("fetch", help="fetch the sources and build the fixtures (once)")
    fetch_parser.add_argument("--out", type=Path, help=f"the folder to build (default {built_root()})")
    compare_parser = sub.add_parser("compare", help="compare a built data folder's fixtures with a reference's")
    compare_parser.add_argument("built", type=Path, help="a folder built by `fetch` (holds sources/ and fixtures/)")
    compare_parser.add_argument("reference", type=Path, help="the reference data folder (holds fixtures/)")
    args = parser.parse_args()
    from sstsal.errors import SstsalError

    if args.command == "fetch":
        root = args.out or built_root()
        try:
            if (root / COMPLETE).is_file():
                fetch_loose_files(root)  # already built: only a file added since
                print(root)
                return 0
            print(fetch_and_build(root))
        except (OSError, SstsalError, subprocess.CalledProcessError) as exc:
            print(f"error: {exc}: check the network, or set SSTSAL_UPSTREAM to a mirror of the GitHub files", file=sys.stderr)
            return 1
        return 0
    from golden import build_raft_golden

    with tempfile.TemporaryDirectory(prefix="sstsal-raft-") as rerun:
        reference = args.reference / "fixtures"
        build_raft_golden(args.built / "sources", Path(rerun), reference / "raft-golden" / "raft-random-init.pth")
        failures = compare(args.built / "fixtures", reference, raft_rerun=Path(rerun))
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

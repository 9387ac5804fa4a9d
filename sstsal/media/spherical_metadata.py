"""Spherical video metadata in MP4 files: read and write V1 (XML ``uuid``) and V2 (``sv3d``/``st3d``).

A small ISO-BMFF box reader/writer following Google's Spherical Video RFCs
(google/spatial-media ``docs/spherical-video-rfc.md`` and ``docs/spherical-video-v2-rfc.md``):

- V2: ``st3d`` (stereo mode) and ``sv3d`` > ``svhd`` + ``proj`` > ``prhd`` (pose, 16.16 fixed
  point degrees) + one of ``equi`` (crop bounds, 0.32 fixed point), ``cbmp`` (cubemap layout,
  padding) or ``mshp`` (mesh), inside the video track's visual sample entry (``avc1``, ...);
- V1: a ``uuid`` box ``ffcc8263-f855-4a93-8814-587a02521fdd`` in the video ``trak`` holding
  ``GSpherical`` XML (projection, stereo mode, initial view, cropped area).

A V2 mesh projection (``mshp``, the camera meshes of VR180 files) is read here, not by ffmpeg
(whose MP4 reader stops at it): its meshes are decoded (raw or deflate, the vertex deltas
bit-packed as the RFC says) to a summary, the degrees each mesh spans. When the file also has V1
XML with a crop description, that is what the frames are taken as, as players without mesh
support do.

Only the ``moov`` box is rewritten on injection; the media data is copied as is (chunk offsets
are shifted when ``moov`` precedes ``mdat``, as in ``+faststart`` files).
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import struct
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sstsal.errors import InputError

log = logging.getLogger(__name__)

V1_UUID = bytes.fromhex("ffcc8263f8554a938814587a02521fdd")
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"sv3d", b"proj", b"edts"}
# Visual sample entries: 8-byte header, then 78 bytes of fixed fields, then child boxes.
_VISUAL_ENTRIES = {b"avc1", b"avc3", b"hvc1", b"hev1", b"mp4v", b"vp09", b"av01", b"apcn", b"apch", b"apcs",
                   b"apco", b"ap4h", b"dvh1", b"dvhe", b"encv"}  # fmt: skip
_VISUAL_FIXED = 78
_OPTIONAL_TAIL = (b"clap", b"pasp", b"btrt", b"fiel")  # st3d/sv3d go before these (RFC)
_ST3D_MODES = {0: "mono", 1: "top-bottom", 2: "left-right", 3: "stereo-custom", 4: "right-left"}
_CUBEMAP_LAYOUTS = {0: "cubemap-3x2"}
_V1_STEREO = {"mono": "mono", "top-bottom": "top-bottom", "left-right": "left-right"}


@dataclass(frozen=True)
class SphericalMetadata:
    """What a file's spherical metadata says; ``version`` None: the file has none.

    projection: ``equirectangular``, ``cubemap-3x2``, ``mesh``, or the raw type name of another;
    stereo: ``mono``, ``top-bottom``, ``left-right``, ``right-left``, ``stereo-custom`` or None
    (no ``st3d``/StereoMode); yaw/pitch/roll: the V2 pose or the V1 initial view, degrees;
    bounds: (top, bottom, left, right) fractions of the full sphere cropped away (VR180 is
    (0, 0, 0.25, 0.25)); padding: cubemap face padding in pixels.
    """

    version: str | None = None  # "v2", "v1" or "v1+v2"
    projection: str | None = None
    stereo: str | None = None
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    padding: int = 0
    source: str | None = None  # svhd metadata_source or V1 StitchingSoftware
    notes: list[str] = field(default_factory=list)
    # "v2": yaw/pitch/roll are the V2 projection pose (prhd); "v1": V1's initial view direction
    pose_from: str | None = None
    # A V2 mesh projection: the summary of :func:`describe_mesh` (None: no mesh)
    mesh: dict | None = None
    # "v1" when V2 is a mesh and projection/bounds come from the V1 crop description instead
    projection_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bounds": list(self.bounds)}


# ---- boxes ----------------------------------------------------------------------------------


@dataclass
class Box:
    """One box: ``prefix`` holds the bytes before the children (full-box fields, sample-entry
    fields) of a container, ``payload`` the whole body of a leaf; ``children`` is None for a leaf."""

    kind: bytes
    prefix: bytes = b""
    payload: bytes = b""
    children: list[Box] | None = None
    extended: bytes = b""  # the 16-byte user type of a ``uuid`` box

    def find(self, kind: bytes) -> Box | None:
        return next((c for c in self.children or [] if c.kind == kind), None)

    def serialize(self) -> bytes:
        body = self.prefix + b"".join(c.serialize() for c in self.children) if self.children is not None else self.payload
        body = self.extended + body
        if len(body) + 8 <= 0xFFFFFFFF:
            return struct.pack(">I4s", len(body) + 8, self.kind) + body
        return struct.pack(">I4sQ", 1, self.kind, len(body) + 16) + body


def _child_prefix(kind: bytes, body: bytes) -> int | None:
    """Length of the fields before the children of a container box, or None for a leaf."""
    if kind in _CONTAINERS:
        return 0
    if kind == b"stsd":
        return 8  # version/flags + entry_count
    if kind in _VISUAL_ENTRIES:
        return _VISUAL_FIXED
    return None


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int, int]]:
    """(type, offset, header size, total size) of the boxes in ``data[start:end]``."""
    end = len(data) if end is None else end
    found, pos = [], start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                break
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            break  # a truncated or padded tail: parsers ignore extra bytes
        found.append((kind, pos, header, size))
        pos += size
    return found


def parse_box(data: bytes, kind: bytes, offset: int, header: int, size: int) -> Box:
    """The box at ``offset`` as a :class:`Box` tree (containers we know are descended into)."""
    body = data[offset + header : offset + size]
    extended = b""
    if kind == b"uuid":
        extended, body = body[:16], body[16:]
    skip = _child_prefix(kind, body)
    if skip is None or len(body) < skip:
        return Box(kind, payload=body, extended=extended)
    children = [parse_box(body, *entry) for entry in iter_boxes(body, skip)]
    return Box(kind, prefix=body[:skip], children=children, extended=extended)


def _video_traks(moov: Box) -> list[Box]:
    traks = []
    for trak in moov.children or []:
        if trak.kind != b"trak":
            continue
        mdia = trak.find(b"mdia")
        hdlr = mdia.find(b"hdlr") if mdia else None
        if hdlr is not None and hdlr.payload[8:12] == b"vide":
            traks.append(trak)
    return traks


def _sample_entries(trak: Box) -> list[Box]:
    stsd = trak.find(b"mdia")
    for kind in (b"minf", b"stbl", b"stsd"):
        stsd = stsd.find(kind) if stsd else None
    return [c for c in (stsd.children or []) if c.children is not None] if stsd else []


def _read_moov(path: Path) -> tuple[Box | None, list[tuple[bytes, int, int, int]]]:
    """The ``moov`` box of ``path`` parsed (read alone, media data untouched) and the top-level boxes."""
    with open(path, "rb") as handle:
        top, pos = [], 0
        size_total = path.stat().st_size
        while pos + 8 <= size_total:
            handle.seek(pos)
            head = handle.read(16)
            size, kind = struct.unpack_from(">I4s", head)
            header = 8
            if size == 1:
                size, header = struct.unpack_from(">Q", head, 8)[0], 16
            elif size == 0:
                size = size_total - pos
            if size < header:
                break
            top.append((kind, pos, header, size))
            pos += size
        moov = next((t for t in top if t[0] == b"moov"), None)
        if moov is None:
            return None, top
        handle.seek(moov[1])
        data = handle.read(moov[3])
    return parse_box(data, b"moov", 0, moov[2], moov[3]), top


# ---- reading --------------------------------------------------------------------------------


def _fixed16(value: int) -> float:
    return value / 65536.0


def _parse_v2(entry: Box) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    st3d = entry.find(b"st3d")
    if st3d is not None and len(st3d.payload) >= 5:
        facts["stereo"] = _ST3D_MODES.get(st3d.payload[4], f"unknown-{st3d.payload[4]}")
    sv3d = entry.find(b"sv3d")
    if sv3d is None:
        return facts
    svhd = sv3d.find(b"svhd")
    if svhd is not None:
        facts["source"] = svhd.payload[4:].split(b"\0", 1)[0].decode("utf-8", "replace") or None
    proj = sv3d.find(b"proj")
    if proj is None:
        facts["projection"] = "unknown"
        return facts
    prhd = proj.find(b"prhd")
    if prhd is not None and len(prhd.payload) >= 16:
        yaw, pitch, roll = struct.unpack_from(">iii", prhd.payload, 4)
        facts.update(yaw=_fixed16(yaw), pitch=_fixed16(pitch), roll=_fixed16(roll))
    for child in proj.children or []:
        if child.kind == b"equi" and len(child.payload) >= 20:
            facts["projection"] = "equirectangular"
            facts["bounds"] = tuple(v / 2**32 for v in struct.unpack_from(">IIII", child.payload, 4))
        elif child.kind == b"cbmp" and len(child.payload) >= 12:
            layout, padding = struct.unpack_from(">II", child.payload, 4)
            facts["projection"] = _CUBEMAP_LAYOUTS.get(layout, f"cubemap-layout-{layout}")
            facts["padding"] = padding
        elif child.kind == b"mshp":
            facts["projection"] = "mesh"
            facts["mesh"] = describe_mesh(child.payload)
        elif child.kind != b"prhd":
            facts.setdefault("projection", child.kind.decode("latin-1"))
    return facts


class _Bits:
    """Big-endian bit reader (the mesh box packs its index deltas in ccsb / vcsb bits)."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.bit = data, pos * 8

    def read(self, count: int) -> int:
        value = 0
        for _ in range(count):
            if self.bit >> 3 >= len(self.data):
                raise ValueError("mesh data ends early")
            value = (value << 1) | ((self.data[self.bit >> 3] >> (7 - (self.bit & 7))) & 1)
            self.bit += 1
        return value


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def mesh_vertices(body: bytes) -> list[tuple[float, float, float, float, float]]:
    """The (x, y, z, u, v) vertices of one ``mesh`` box body (RFC: coordinates as float32, then
    per vertex five zigzag-coded index deltas of ceil(log2(2 * coordinate_count)) bits)."""
    bits = _Bits(body)
    bits.read(1)
    count = bits.read(31)
    coordinates = struct.unpack_from(f">{count}f", body, 4)
    bits.bit = (4 + 4 * count) * 8
    bits.read(1)
    vertex_count = bits.read(31)
    width = max(1, math.ceil(math.log2(max(2, count * 2))))
    index = [0] * 5
    vertices = []
    for _ in range(vertex_count):
        for k in range(5):
            index[k] += _zigzag(bits.read(width))
        if not all(0 <= i < count for i in index):
            raise ValueError("a mesh vertex points outside the coordinate list")
        vertices.append(tuple(coordinates[i] for i in index))
    return vertices  # type: ignore[return-value]


def describe_mesh(payload: bytes) -> dict[str, Any]:
    """What a ``mshp`` box holds: its encoding, and per mesh the vertex count and the degrees
    it spans (longitude, latitude of its vertices; -z is the front, y up)."""
    summary: dict[str, Any] = {"encoding": payload[8:12].decode("latin-1").strip() if len(payload) >= 12 else None}
    try:
        data = payload[12:]
        if summary["encoding"] == "dfl8":
            data = zlib.decompress(data, -15)
        elif summary["encoding"] != "raw":
            raise ValueError(f"unknown mesh encoding {summary['encoding']!r}")
        meshes = []
        for kind, offset, header, size in iter_boxes(data):
            if kind != b"mesh":
                continue
            vertices = mesh_vertices(data[offset + header : offset + size])
            lon = [math.degrees(math.atan2(x, -z)) for x, _y, z, _u, _v in vertices]
            lat = [math.degrees(math.asin(max(-1.0, min(1.0, y / (math.sqrt(x * x + y * y + z * z) or 1)))))
                   for x, y, z, _u, _v in vertices]  # fmt: skip
            meshes.append({"vertices": len(vertices), "degrees_wide": round(max(lon) - min(lon), 1) if lon else 0.0,
                           "degrees_high": round(max(lat) - min(lat), 1) if lat else 0.0})  # fmt: skip
        summary["meshes"] = meshes
    except (ValueError, zlib.error, struct.error) as exc:
        summary["error"] = f"mesh unreadable: {exc}"
    return summary


def _v1_value(xml: str, tag: str) -> str | None:
    match = re.search(rf"<GSpherical:{tag}>\s*([^<]*?)\s*</GSpherical:{tag}>", xml)
    return match[1] if match else None


def _parse_v1(trak: Box) -> dict[str, Any]:
    box = next((c for c in trak.children or [] if c.kind == b"uuid" and c.extended == V1_UUID), None)
    if box is None:
        return {}
    xml = box.payload.decode("utf-8", "replace")
    if (_v1_value(xml, "Spherical") or "").lower() != "true":
        return {}
    facts: dict[str, Any] = {"projection": (_v1_value(xml, "ProjectionType") or "equirectangular").lower()}
    if stereo := _v1_value(xml, "StereoMode"):
        facts["stereo"] = stereo.lower()
    for key, tag in (("yaw", "InitialViewHeadingDegrees"), ("pitch", "InitialViewPitchDegrees"),
                     ("roll", "InitialViewRollDegrees")):  # fmt: skip
        if (value := _v1_value(xml, tag)) is not None:
            facts[key] = float(value)
    if software := _v1_value(xml, "StitchingSoftware"):
        facts["source"] = software
    crop = {tag: _v1_value(xml, tag) for tag in ("CroppedAreaImageWidthPixels", "CroppedAreaImageHeightPixels",
            "FullPanoWidthPixels", "FullPanoHeightPixels", "CroppedAreaLeftPixels", "CroppedAreaTopPixels")}  # fmt: skip
    if all(crop.values()):
        w, h, fw, fh, left, top = (float(v) for v in crop.values())
        if fw > 0 and fh > 0 and (w, h) != (fw, fh):
            facts["bounds"] = (top / fh, 1 - (top + h) / fh, left / fw, 1 - (left + w) / fw)
    return facts


def _same(a: Any, b: Any) -> bool:
    """Equal, floats up to V1's whole pixels (bounds) and V2's fixed point."""
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 2e-3
    return a == b


def read_spherical_metadata(path: str | Path) -> SphericalMetadata:
    """The spherical metadata of the first video track of an MP4/MOV file (V2 wins over V1).

    Files without a ``moov`` box (Matroska/WebM, AVI) read as having none.
    """
    path = Path(path)
    try:
        moov, _ = _read_moov(path)
    except (OSError, struct.error) as exc:
        log.warning("could not read the boxes of %s: %s", path.name, exc)
        return SphericalMetadata(notes=[f"boxes unreadable: {exc}"])
    if moov is None:
        return SphericalMetadata()
    traks = _video_traks(moov)
    if not traks:
        return SphericalMetadata()
    v1 = _parse_v1(traks[0])
    v2: dict[str, Any] = {}
    for entry in _sample_entries(traks[0]):
        v2 = _parse_v2(entry)
        break
    if not v1 and not v2:
        return SphericalMetadata()
    notes = []
    if v1 and v2:
        differs = sorted(k for k in set(v1) & set(v2) if k != "source" and not _same(v1[k], v2[k]))
        if differs:
            notes.append(f"V1 and V2 metadata differ in {', '.join(differs)}: V2 is used, as the RFC says")
    merged = {**v1, **v2}
    if v2.get("projection") == "mesh" and v1.get("projection") == "equirectangular":
        # players without mesh support show the V1 crop description: so do we
        merged.update(projection="equirectangular", bounds=v1.get("bounds", (0.0, 0.0, 0.0, 0.0)), projection_from="v1")
        notes = [n for n in notes if "differ in" not in n]
        notes.append("V2 describes the frames with a mesh (mshp); the V1 crop description is used, as players "
                     "without mesh support do")  # fmt: skip
    if "yaw" in v2:
        merged["pose_from"] = "v2"
    elif "yaw" in v1 or "pitch" in v1 or "roll" in v1:
        merged["pose_from"] = "v1"
    version = "v1+v2" if v1 and v2 else ("v2" if v2 else "v1")
    if "projection" not in merged:
        merged["projection"] = None  # st3d alone: a stereo layout without a spherical projection
    return SphericalMetadata(version=version, notes=notes, **merged)


_SIDE_STEREO = {"2D": "mono", "top and bottom": "top-bottom", "side by side": "left-right"}
_SIDE_POSE = re.compile(r"\((-?[\d.]+)/(-?[\d.]+)/(-?[\d.]+)\)")


def metadata_from_side_data(lines: list[str]) -> SphericalMetadata:
    """Spherical metadata from ffmpeg's side-data lines ("Spherical Mapping: ...", "Stereo 3D: ..."),
    for containers the box reader does not parse (Matroska/WebM)."""
    facts: dict[str, Any] = {}
    for line in lines:
        kind, _, value = line.partition(":")
        value = value.strip()
        if kind.strip().lower() == "stereo 3d":
            layout = value.split(",")[0].strip()
            facts["stereo"] = _SIDE_STEREO.get(layout.replace(" (inverted)", ""), layout)
            if "inverted" in value and facts["stereo"] == "left-right":
                facts["stereo"] = "right-left"
        elif kind.strip().lower() == "spherical mapping":
            name = value.split("(")[0].split("[")[0].strip()
            facts["projection"] = {"equirectangular": "equirectangular", "cubemap": "cubemap-3x2"}.get(name, name)
            if pose := _SIDE_POSE.search(value):  # ffmpeg prints the V2 pose (prhd, Matroska's ProjectionPose*)
                facts.update(yaw=float(pose[1]), pitch=float(pose[2]), roll=float(pose[3]), pose_from="v2")
    if not facts:
        return SphericalMetadata()
    facts.setdefault("projection", None)
    return SphericalMetadata(version="side data", notes=["read from ffmpeg's side data"], **facts)


# ---- writing --------------------------------------------------------------------------------


def st3d_box(stereo: str) -> Box:
    modes = {v: k for k, v in _ST3D_MODES.items()}
    if stereo not in modes:
        raise InputError(f"unknown stereo mode {stereo!r}: use one of {', '.join(modes)}")
    return Box(b"st3d", payload=struct.pack(">IB", 0, modes[stereo]))


def sv3d_box(
    projection: str = "equirectangular",
    *,
    yaw: float = 0.0,
    pitch: float = 0.0,
    roll: float = 0.0,
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
    padding: int = 0,
    source: str = "sstsal",
) -> Box:
    svhd = Box(b"svhd", payload=struct.pack(">I", 0) + source.encode("utf-8") + b"\0")
    prhd = Box(b"prhd", payload=struct.pack(">Iiii", 0, *(round(v * 65536) for v in (yaw, pitch, roll))))
    if projection == "equirectangular":
        fixed = [min(0xFFFFFFFF, round(b * 2**32)) for b in bounds]
        data = Box(b"equi", payload=struct.pack(">IIIII", 0, *fixed))
    elif projection == "cubemap-3x2":
        data = Box(b"cbmp", payload=struct.pack(">III", 0, 0, padding))
    else:
        raise InputError(f"spherical metadata V2 cannot describe projection {projection!r}")
    return Box(b"sv3d", children=[svhd, Box(b"proj", children=[prhd, data])])


def v1_xml(stereo: str, *, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, source: str = "sstsal",
           bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
           eye_size: tuple[int, int] | None = None) -> bytes:
    """The V1 ``GSpherical`` XML of an equirectangular video; cropped (VR180: ``bounds``, given with
    the stored ``eye_size`` (w, h)) with the ``CroppedArea*``/``FullPano*`` pixel tags."""
    lines = [
        '<?xml version="1.0"?><rdf:SphericalVideo',
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"',
        'xmlns:GSpherical="http://ns.google.com/videos/1.0/spherical/">',
        "<GSpherical:Spherical>true</GSpherical:Spherical>",
        "<GSpherical:Stitched>true</GSpherical:Stitched>",
        f"<GSpherical:StitchingSoftware>{source}</GSpherical:StitchingSoftware>",
        "<GSpherical:ProjectionType>equirectangular</GSpherical:ProjectionType>",
    ]
    if stereo != "mono":
        lines.append(f"<GSpherical:StereoMode>{_V1_STEREO[stereo]}</GSpherical:StereoMode>")
    for tag, value in (("Heading", yaw), ("Pitch", pitch), ("Roll", roll)):
        if value:
            lines.append(f"<GSpherical:InitialView{tag}Degrees>{round(value)}</GSpherical:InitialView{tag}Degrees>")
    if bounds != (0.0, 0.0, 0.0, 0.0):
        if eye_size is None:
            raise InputError("V1 metadata of a cropped frame needs the stored eye size")
        top, bottom, left, right = bounds
        full_w, full_h = round(eye_size[0] / (1 - left - right)), round(eye_size[1] / (1 - top - bottom))
        for tag, value in (("CroppedAreaLeftPixels", round(left * full_w)), ("CroppedAreaTopPixels", round(top * full_h)),
                           ("CroppedAreaImageWidthPixels", eye_size[0]), ("CroppedAreaImageHeightPixels", eye_size[1]),
                           ("FullPanoWidthPixels", full_w), ("FullPanoHeightPixels", full_h)):  # fmt: skip
            lines.append(f"<GSpherical:{tag}>{value}</GSpherical:{tag}>")
    lines.append("</rdf:SphericalVideo>")
    return "\n".join(lines).encode("utf-8")


def _shift_chunk_offsets(box: Box, delta: int) -> None:
    for child in box.children or []:
        if child.kind == b"stco":
            count = struct.unpack_from(">I", child.payload, 4)[0]
            offsets = struct.unpack_from(f">{count}I", child.payload, 8)
            if max(offsets, default=0) + delta > 0xFFFFFFFF:
                raise InputError("the video is too large for 32-bit chunk offsets after adding metadata")
            child.payload = child.payload[:8] + struct.pack(f">{count}I", *(o + delta for o in offsets))
        elif child.kind == b"co64":
            count = struct.unpack_from(">I", child.payload, 4)[0]
            offsets = struct.unpack_from(f">{count}Q", child.payload, 8)
            child.payload = child.payload[:8] + struct.pack(f">{count}Q", *(o + delta for o in offsets))
        elif child.children is not None:
            _shift_chunk_offsets(child, delta)


def inject_spherical_metadata(
    source: str | Path,
    out: str | Path,
    *,
    projection: str = "equirectangular",
    stereo: str = "mono",
    yaw: float = 0.0,
    pitch: float = 0.0,
    roll: float = 0.0,
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
    padding: int = 0,
    v1: bool = True,
    v2: bool = True,
    tool: str = "sstsal",
) -> Path:
    """Copy the MP4 ``source`` to ``out`` with spherical metadata on its first video track.

    V2 boxes (``st3d`` + ``sv3d``) go into the sample entry; with ``v1`` (equirectangular, whole or
    cropped, the only projection V1 players know) also the V1 XML ``uuid`` box.
    Metadata already there is replaced. ``out`` may not be ``source``.
    """
    source, out = Path(source), Path(out)
    if source.resolve() == out.resolve():
        raise InputError(f"inject_spherical_metadata writes a new file: {out} is its source")
    moov, top = _read_moov(source)
    if moov is None:
        raise InputError(f"{source} is not an MP4/MOV file (no moov box): cannot add spherical metadata")
    traks = _video_traks(moov)
    entries = _sample_entries(traks[0]) if traks else []
    if not entries:
        raise InputError(f"{source} has no video sample entry the box writer knows: cannot add spherical metadata")
    old_size = next(t[3] for t in top if t[0] == b"moov")
    entry = entries[0]
    kept = [c for c in entry.children if c.kind not in (b"st3d", b"sv3d")]
    new_boxes = ([st3d_box(stereo)] if v2 else []) + (
        [sv3d_box(projection, yaw=yaw, pitch=pitch, roll=roll, bounds=bounds, padding=padding, source=tool)]
        if v2 else []
    )  # fmt: skip
    at = next((i for i, c in enumerate(kept) if c.kind in _OPTIONAL_TAIL), len(kept))
    entry.children = kept[:at] + new_boxes + kept[at:]
    trak = traks[0]
    trak.children = [c for c in trak.children if not (c.kind == b"uuid" and c.extended == V1_UUID)]
    if v1 and projection == "equirectangular" and stereo in _V1_STEREO:
        width, height = struct.unpack_from(">HH", entry.prefix, 24)  # the visual sample entry's size
        eye = (width, height // 2) if stereo == "top-bottom" else (width // 2, height) if stereo == "left-right" else (width, height)
        xml = v1_xml(stereo, yaw=yaw, pitch=pitch, roll=roll, source=tool, bounds=tuple(bounds), eye_size=eye)
        trak.children.append(Box(b"uuid", payload=xml, extended=V1_UUID))
    moov_offset = next(t[1] for t in top if t[0] == b"moov")
    if any(t[0] == b"mdat" and t[1] > moov_offset for t in top):
        # the media data moves by the growth of moov: every chunk offset moves with it
        delta = len(moov.serialize()) - old_size
        _shift_chunk_offsets(moov, delta)
        if len(moov.serialize()) - old_size != delta:
            raise InputError(f"{source}: chunk offsets changed size while shifting (32-bit overflow)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(out, "wb") as dst:
        for kind, offset, _header, size in top:
            if kind == b"moov":
                dst.write(moov.serialize())
                continue
            src.seek(offset)
            _copy_range(src, dst, size)
    return out


def _copy_range(src: Any, dst: Any, size: int) -> None:
    remaining = size
    while remaining > 0:
        chunk = src.read(min(remaining, 1 << 22))
        if not chunk:
            break
        dst.write(chunk)
        remaining -= len(chunk)


def with_spherical_metadata(path: str | Path, **options: Any) -> Path:
    """:func:`inject_spherical_metadata` in place (through a temporary file next to ``path``)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".sv3d.tmp")
    try:
        inject_spherical_metadata(path, tmp, **options)
        shutil.move(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

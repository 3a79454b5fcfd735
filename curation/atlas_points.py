"""A map's points as binary arrays for the browser (issue 18): no per-point JSON.

`pack` turns the map's frame (x, y, a colour column, the hover text) into a few byte strings — float32 x and y,
uint16 colour codes, UTF-8 hover texts with uint32 offsets — and small JSON-able metadata (palette, category names,
bounds, labels). `selection` turns the bytes a browser sends back (int32: the map's stamp, then row numbers) into
record ids. Pure numpy/pandas: the dashboard's fast map view (ui/map_canvas.py) draws what this packs.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

GREY = "#d0d0d8"
PALETTE = [
    "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac",
    "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
]
# Viridis in 16 steps: continuous colourings (quality, length, confidence) are binned (a legend names each bin's range).
VIRIDIS = ["#440154", "#481a6c", "#472f7d", "#414487", "#39568c", "#31688e", "#2a788e", "#23888e",
           "#1f988b", "#22a884", "#35b779", "#54c568", "#7ad151", "#a5db36", "#d2e21b", "#fde725"]
MAX_CATEGORIES = 65_000  # codes are uint16


@dataclass
class Packed:
    """What the browser gets: `args` (bytes and small metadata) and the stamp its selections come back with."""

    args: dict
    stamp: int

    @property
    def nbytes(self) -> int:
        return sum(len(v) for v in self.args.values() if isinstance(v, bytes))

    def blob(self, names: tuple[str, ...]) -> tuple[bytes, dict]:
        """These bytes parts as one blob (each part 8-byte aligned) and where each lies in it ({name: [offset, length]}):
        served as one file, the browser fetches it instead of getting it inside the page's message."""
        parts, layout, at = [], {}, 0
        for name in names:
            value = self.args[name]
            if isinstance(value, bytes):
                pad = -at % 8
                parts.append(b"\0" * pad)
                at += pad
                layout[name] = [at, len(value)]
                parts.append(value)
                at += len(value)
        return b"".join(parts), layout


def stamp_of(frame: pd.DataFrame) -> int:
    """A number that changes when the rows (their ids and order) change: a selection made on an older map is ignored."""
    ids = frame["record_id"].astype(str)
    probe = f"{len(ids)}|{'|'.join(ids.iloc[:: max(1, len(ids) // 997)])}|{ids.iloc[-1] if len(ids) else ''}"
    return zlib.crc32(probe.encode()) & 0x7FFFFFFF


def hover_texts(texts: pd.Series, width: int) -> tuple[bytes, bytes]:
    """The start of each text (one line), UTF-8 bytes joined, with uint32 byte offsets (n + 1). Arrow compute: 1M
    texts in a fraction of a second (pandas' .str would take seconds)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(texts, from_pandas=True)
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())  # large_string / string_view / other: Arrow's plain string layout below
    arr = pc.replace_substring(pc.utf8_slice_codeunits(pc.fill_null(arr, ""), 0, width), "\n", " ")
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.string())
    _, offsets, data = arr.buffers()
    offs = np.frombuffer(offsets, dtype=np.int32, count=arr.offset + len(arr) + 1)[arr.offset:]
    body = data.to_pybytes()[int(offs[0]): int(offs[-1])] if data is not None else b""
    return body, (offs - offs[0]).astype(np.uint32).tobytes()


def text_width(n: int) -> int:
    """How many characters of each text the hover shows: fewer on the biggest maps (the texts are most of the bytes)."""
    return 70 if n <= 200_000 else 45


def fingerprint(texts: pd.Series) -> str:
    """A cheap content key of a text column (crc32 over its Arrow buffers: ~60 ms for 1M texts), for caching hover_texts."""
    import pyarrow as pa

    arr = pa.array(texts, from_pandas=True)
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    h = 0
    for chunk in chunks:
        for buffer in chunk.buffers():
            if buffer is not None:
                h = zlib.crc32(memoryview(buffer), h)
    return f"{len(texts)}:{arr.type}:{h:08x}"


def categorical(keys: pd.Series) -> tuple[np.ndarray, list[str], list[str]]:
    """uint16 codes, category names (noise last) and their colours."""
    raw, uniques = pd.factorize(keys, use_na_sentinel=False)
    text = [str(u) for u in uniques]
    names = sorted(set(text), key=lambda v: (v == "noise", v))[:MAX_CATEGORIES]
    where = {v: i for i, v in enumerate(names)}
    remap = np.array([where.get(t, 0) for t in text] or [0], dtype=np.uint16)
    palette = [GREY if v == "noise" else PALETTE[i % len(PALETTE)] for i, v in enumerate(names)]
    return remap[raw], names, palette


def binned(values: pd.Series) -> tuple[np.ndarray, list[str], list[str]]:
    """A continuous column in len(VIRIDIS) equal-width bins: uint16 codes, each bin's range as its name, its colour."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    finite = np.isfinite(v)
    low, high = (float(np.min(v[finite])), float(np.max(v[finite]))) if finite.any() else (0.0, 1.0)
    k = len(VIRIDIS)
    step = (high - low) / k or 1.0
    codes = np.clip(((np.where(finite, v, low) - low) / step).astype(np.int64), 0, k - 1).astype(np.uint16)
    names = [f"{low + i * step:.3g}–{low + (i + 1) * step:.3g}" for i in range(k)]
    return codes, names, list(VIRIDIS)


def view_range(values: np.ndarray) -> list[float]:
    """All but the farthest 0.5% on each side (far outliers would squeeze a big map into a corner)."""
    if len(values) < 500:
        low, high = float(np.min(values)), float(np.max(values))
    else:
        low, high = (float(v) for v in np.percentile(values, [0.5, 99.5]))
    pad = (high - low) * 0.05 or 1.0
    return [low - pad, high + pad]


def pack(frame: pd.DataFrame, colour: pd.Series, *, continuous: bool = False, text: str = "instruction",
         labels: pd.DataFrame | None = None, found_rows: list[int] | None = None, height: int = 620,
         hover: tuple[bytes, bytes] | None = None) -> Packed:
    """The map's points (frame: record_id, x, y and the text column) coloured by `colour`, ready for the browser;
    `hover`: hover_texts(frame[text], text_width(n)) when the caller has it (cached) already."""
    n = len(frame)
    x, y = frame["x"].to_numpy(np.float32), frame["y"].to_numpy(np.float32)
    codes, names, palette = binned(colour) if continuous else categorical(colour)
    texts, offsets = hover if hover is not None else hover_texts(frame[text], text_width(n))
    if n:
        bounds = [float(np.min(x)), float(np.max(x)), float(np.min(y)), float(np.max(y))]
        view = [*view_range(x), *view_range(y)]
    else:
        bounds = view = [0.0, 1.0, 0.0, 1.0]
    if bounds[0] == bounds[1]:
        bounds[1] += 1.0
    if bounds[2] == bounds[3]:
        bounds[3] += 1.0
    marks = [] if labels is None else [{"x": float(r.x), "y": float(r.y), "text": str(r.label)[:36]} for r in labels.itertuples()]
    stamp = stamp_of(frame)
    args = {"n": n, "x": x.tobytes(), "y": y.tobytes(), "codes": codes.tobytes(), "names": names, "palette": palette,
            "texts": texts, "offsets": offsets, "bounds": bounds, "view": view, "labels": marks,
            "found": [int(r) for r in (found_rows or []) if 0 <= int(r) < n], "stamp": stamp, "height": height,
            "point": 3 if n <= 20_000 else 2}
    return Packed(args, stamp)


def selection(value, frame: pd.DataFrame, stamp: int) -> list[str]:
    """Record ids of the rows the browser selected (int32 bytes: stamp, rows…); [] for none or another map's stamp."""
    if not value:
        return []
    raw = np.frombuffer(bytes(value), dtype=np.int32)
    if len(raw) < 1 or int(raw[0]) != stamp:
        return []
    rows = raw[1:]
    rows = np.unique(rows[(rows >= 0) & (rows < len(frame))])
    return list(frame["record_id"].iloc[rows].astype(str))

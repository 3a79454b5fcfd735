"""The reward-model scorer on a tiny sequence-classification model that the test trains and saves."""

from __future__ import annotations

import pytest
import torch

from curation.errors import CurationError
from curation.scorers import exchanges, get_scorer
from tests.curation.scorers.test_base import frame

WORDS = "the a answer is good bad great awful helpful useless question what why how explain say tell me system be brief user assistant :"


def tiny_reward_model(folder, *, labels: int = 1, chat_template: str | None = None, train: bool = True):
    """A 1-layer BERT reward model over a word-level vocabulary, trained briefly to prefer 'good' words."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    vocab = {w: i for i, w in enumerate(specials + WORDS.split())}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                                        sep_token="[SEP]", model_max_length=64)
    if chat_template:
        tokenizer.chat_template = chat_template
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                        max_position_embeddings=64, num_labels=labels)
    model = BertForSequenceClassification(config)
    if train:
        good = ["the answer is good", "a great helpful answer", "good good great"]
        bad = ["the answer is bad", "an awful useless answer", "bad bad awful"]
        batch = tokenizer(["what is it"] * 6, good + bad, padding=True, return_tensors="pt")
        target = torch.tensor([1.0] * 3 + [0.0] * 3)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        model.train()
        for _ in range(60):
            logits = model(**batch).logits
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], target) if labels == 1
                    else torch.nn.functional.cross_entropy(logits, target.long()))
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return tokenizer, model


RECORDS = frame([
    {"instruction": "what is it", "output": "the answer is good"},
    {"instruction": "what is it", "output": "the answer is bad"},
    {"instruction": "explain why", "output": "a great helpful answer", "system": "be brief"},
    {"instruction": "explain why", "output": "an awful useless answer"},
    {"instruction": "tell me", "output": "good"},
    {"instruction": "tell me how", "output": ""},
])


def direct(tokenizer, model, texts) -> list[float]:
    """The model's own output for each input alone (no batching, no padding)."""
    out = []
    with torch.inference_mode():
        for args in texts:
            logits = model(**tokenizer(*args, return_tensors="pt")).logits[0]
            out.append(float(logits[0]) if len(logits) == 1 else float(logits[-1] - torch.logsumexp(logits[:-1], 0)))
    return out


def test_reward_model_scores_pairs_in_batches(ws, tmp_path):
    tokenizer, model = tiny_reward_model(tmp_path / "rm")
    scorer = get_scorer("reward")
    out = scorer.score(ws, RECORDS, model=str(tmp_path / "rm"), batch_size=2)
    s = out["score"].tolist()
    assert s[0] > s[1] and s[2] > s[3] and s[4] > s[1]  # the preference it was trained on
    pairs = [(f"{e.system}\n\n{e.prompt}" if e.system else e.prompt, e.answer) for e in exchanges(RECORDS)[:5]]
    assert s[:5] == pytest.approx(direct(tokenizer, model, pairs), abs=1e-4)  # batching and padding change nothing
    assert out["reason"].tolist()[5] == "empty output" and out.attrs["info"]["computed"] == 5
    again = scorer.score(ws, RECORDS, model=str(tmp_path / "rm"))
    assert again.attrs["info"]["computed"] == 0 and again["score"].tolist()[:5] == s[:5]


def test_chat_template_and_two_label_models(ws, tmp_path):
    template = "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} {% endfor %}"
    tokenizer, model = tiny_reward_model(tmp_path / "rm2", labels=2, chat_template=template)
    out = get_scorer("reward").score(ws, RECORDS, model=str(tmp_path / "rm2"))
    texts = [(tokenizer.apply_chat_template([*e.messages, {"role": "assistant", "content": e.answer}], tokenize=False),)
             for e in exchanges(RECORDS)[:5]]
    assert texts[2][0].startswith("system : be brief user : explain why assistant :")
    expected = []
    with torch.inference_mode():
        for (text,) in texts:
            logits = model(**tokenizer(text, return_tensors="pt", add_special_tokens=False)).logits[0]
            expected.append(float(logits[1] - logits[0]))
    assert out["score"].tolist()[:5] == pytest.approx(expected, abs=1e-4)
    assert out["score"].iat[0] > out["score"].iat[1]


def test_a_changed_model_gets_a_new_cache(ws, tmp_path):
    tiny_reward_model(tmp_path / "rm", train=False)
    get_scorer("reward").score(ws, RECORDS, model=str(tmp_path / "rm"))
    from curation.scorers import reward

    reward.load_model.cache_clear()
    tiny_reward_model(tmp_path / "rm", train=True)  # retrained in place
    out = get_scorer("reward").score(ws, RECORDS, model=str(tmp_path / "rm"))
    assert out.attrs["info"]["computed"] == 5 and len(list((ws.root / "scores").iterdir())) == 2


def test_reward_needs_a_loadable_model(ws, tmp_path):
    with pytest.raises(CurationError, match="needs a model"):
        get_scorer("reward").score(ws, RECORDS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CurationError, match="could not load the reward model"):
        get_scorer("reward").score(ws, RECORDS, model=str(tmp_path / "empty"))

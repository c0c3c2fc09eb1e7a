"""The Chinese sentiment classifier: its labels on reviews written here, its split, and its
answers for texts with nothing to read. (Accuracy and speed are bench/insight.py's.)"""

import pytest

from app.insight.sentiment import Sentiment
from app.insight.sentiment_zh import (
    ChineseSentiment,
    chinese_model,
    is_held_out,
    labelled_lines,
    model_version,
)
from app.insight.words import is_chinese, words

# Written for this test: none of them is a line of the training data (checked below).
PRAISE = [
    "这款耳机音质非常好，佩戴也舒服，物流很快，非常满意！",
    "衣服质量很好，做工精致，穿着很舒服，下次还会再来买。",
    "酒店服务态度特别好，房间干净整洁，早餐丰富，强烈推荐。",
    "性价比很高，屏幕清晰，运行流畅，值得购买。",
]
COMPLAINT = [
    "质量太差了，用了两天就坏了，非常失望。",
    "客服态度恶劣，退货也不给退，再也不买了。",
    "房间又脏又吵，空调还是坏的，千万别住。",
    "做工粗糙，味道很大，和图片完全不一样，差评。",
]


@pytest.fixture(scope="module")
def model() -> ChineseSentiment:
    return chinese_model()


def test_own_sentences_are_not_training_lines() -> None:
    train, test = labelled_lines()
    known = {text for text, _ in train + test}
    assert not known & {*PRAISE, *COMPLAINT}


def test_clear_praise_and_complaint_get_their_label(model: ChineseSentiment) -> None:
    assert [s.label for s in model.predict(PRAISE)] == ["positive"] * len(PRAISE)
    assert [s.label for s in model.predict(COMPLAINT)] == ["negative"] * len(COMPLAINT)


def test_split_is_deterministic_and_disjoint() -> None:
    train, test = labelled_lines()
    labelled_lines.cache_clear()
    assert labelled_lines() == (train, test)
    train_texts, test_texts = {t for t, _ in train}, {t for t, _ in test}
    assert not train_texts & test_texts
    assert len(train_texts) == len(train)
    assert len(test_texts) == len(test)
    assert all(is_held_out(t) for t in test_texts)
    assert not any(is_held_out(t) for t in train_texts)
    # The split goes by the text alone, so surrounding white space changes nothing.
    assert all(is_held_out(f"  {t}\n") for t, _ in test[:50])
    assert 0.17 < len(test) / (len(train) + len(test)) < 0.23
    assert {y for _, y in train} == {y for _, y in test} == {0, 1}
    assert all(t.strip() == t and t for t, _ in train + test)


def test_no_text_has_both_labels() -> None:
    train, test = labelled_lines()
    labels: dict[str, set[int]] = {}
    for text, label in train + test:
        labels.setdefault(text, set()).add(label)
    assert all(len(found) == 1 for found in labels.values())


@pytest.mark.parametrize("text", ["", "   ", "\n\t \u3000", "😀👍🎉", "🙂" * 50])
def test_nothing_to_read_is_neutral(model: ChineseSentiment, text: str) -> None:
    assert model.predict([text]) == [Sentiment("neutral", 0.0)]


def test_very_long_text_gets_an_answer(model: ChineseSentiment) -> None:
    long = "质量很好，" + "今天天气不错。" * 15_000
    assert len(long) > 100_000
    [answer] = model.predict([long])
    assert answer.label in {"positive", "negative", "neutral"}
    assert -1.0 <= answer.score <= 1.0


def test_predict_keeps_order_and_length(model: ChineseSentiment) -> None:
    texts = [PRAISE[0], COMPLAINT[0], "", PRAISE[0], COMPLAINT[1]]
    together = model.predict(texts)
    assert len(together) == len(texts)
    assert together == [model.predict([t])[0] for t in texts]
    assert together[0] == together[3]
    assert model.predict([]) == []


def test_scores_are_in_range_and_match_labels(model: ChineseSentiment) -> None:
    _, test = labelled_lines()
    for answer in model.predict([t for t, _ in test[:300]]):
        assert -1.0 <= answer.score <= 1.0
        assert (answer.label == "neutral") == (abs(answer.score) < 0.2)
        if answer.label != "neutral":
            assert (answer.label == "positive") == (answer.score > 0)


def test_one_model_per_process_with_a_stable_version(model: ChineseSentiment) -> None:
    assert chinese_model() is model
    assert model.version == chinese_model().version == model_version()
    model_version.cache_clear()
    assert model_version() == model.version


def test_words_drop_punctuation_and_space() -> None:
    assert words("续航很好，但是 充电慢！😀", "zh") == ["续航", "很", "好", "但是", "充电", "慢"]
    assert words("Battery's great, don’t buy the case!", "en") == [
        *("battery's", "great", "don't", "buy", "the", "case"),
    ]


def test_language_by_script() -> None:
    assert is_chinese("AirPods 续航很好")
    assert not is_chinese("The battery lasts two days")
    assert not is_chinese("😀 123")

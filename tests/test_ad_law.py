"""Every advertising-law term is found at the start of a text and in the middle of a sentence."""

import pytest

from app.checks.ad_law import EN_TERMS, ZH_TERMS, absolute_claims

# One phrase each term's pattern must find; a new term needs a phrase here.
EN_EXAMPLES = {
    r"the best": "the best",
    r"best[- ]ever": "best-ever",
    r"world['’]?s (?:best|first|leading)": "world’s leading",
    r"number one": "number one",
    r"no\. ?1": "No. 1",
    r"#1": "#1",
    r"guaranteed": "guaranteed",
    r"100% (?:safe|effective|natural)": "100% natural",
    r"risk[- ]free": "risk-free",
    r"miracle": "miracle",
    r"cures?": "cures",
    r"clinically proven": "clinically proven",
    r"unbeatable": "unbeatable",
    r"(?:the )?ultimate": "the ultimate",
    r"unparalleled": "unparalleled",
    r"lowest price": "lowest price",
    r"first[- ]ever": "first-ever",
    r"industry[- ]first": "industry-first",
    r"(?:the )?first of its kind": "the first of its kind",
}


def test_every_english_term_has_an_example() -> None:
    assert set(EN_EXAMPLES) == set(EN_TERMS)


@pytest.mark.parametrize("phrase", EN_EXAMPLES.values())
@pytest.mark.parametrize("template", ["{} kettle for tea lovers.", "Our kettle is {} for tea."])
def test_english_terms_are_found(template: str, phrase: str) -> None:
    text = template.format(phrase[0].upper() + phrase[1:] if template[0] == "{" else phrase)
    assert [c.casefold() for c in absolute_claims(text)] == [phrase.casefold()]


@pytest.mark.parametrize("term", ZH_TERMS)
@pytest.mark.parametrize("template", ["{}的水壶，泡茶正好。", "这款水壶{}，泡茶正好。"])
def test_chinese_terms_are_found(template: str, term: str) -> None:
    assert term in absolute_claims(template.format(term))


@pytest.mark.parametrize(
    "text",
    [
        "Ranked #10 in our survey.",
        "A secure lid and a procured handle.",
        "Kettle#1 is our model name.",
        "The bestseller of the year.",
        "A good kettle.",
    ],
)
def test_terms_inside_other_words_are_not_claims(text: str) -> None:
    assert absolute_claims(text) == []


def test_claims_come_in_order_of_appearance() -> None:
    assert absolute_claims("Guaranteed: #1 for tea, 销量第一.") == ["Guaranteed", "#1", "销量第一"]

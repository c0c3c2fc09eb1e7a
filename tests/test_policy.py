"""The policy checks every variant runs, in both languages: brand terms, required elements,
trademarks, preferred terms, forbidden claims, advertising law with approved claims,
discriminatory wording, and customers' quotes copied into the copy."""

import pytest

from app.checks import CheckResult
from app.checks.policy import Policy, PreferredTerm, policy_checks


def _by_name(text: str, policy: Policy) -> dict[str, CheckResult]:
    return {c.name: c for c in policy_checks(text, policy)}


class TestBannedTerms:
    @pytest.mark.parametrize(
        ("text", "span"),
        [
            ("Cheap shoes for the trail.", "Cheap"),
            ("Shoes that are CHEAP to run in.", "CHEAP"),
            ("不是廉价的跑鞋。", "廉价"),
        ],
    )
    def test_found_in_either_language(self, text: str, span: str) -> None:
        check = _by_name(text, Policy(banned=("cheap", "廉价")))["brand_banned"]
        assert check.passed is False
        assert check.hard is True
        assert check.span == span

    def test_a_latin_term_is_a_whole_word(self) -> None:
        check = _by_name("Cheaper by the dozen.", Policy(banned=("cheap",)))["brand_banned"]
        assert check.passed is True


class TestRequiredAndTrademarks:
    def test_required_elements_missing_and_present(self) -> None:
        policy = Policy(required=("#AuroraRuns", "数量有限"))
        missing = _by_name("Run the ridge. #aurorarunS", policy)["required_element"]
        assert missing.passed is False
        assert "数量有限" in str(missing.detail)
        assert _by_name("#AuroraRuns，数量有限。", policy)["required_element"].passed

    @pytest.mark.parametrize("wrong", ["Iphone", "IPHONE", "i-Phone", "i Phone"])
    def test_trademark_misspellings_fail(self, wrong: str) -> None:
        check = _by_name(f"Works with your {wrong}.", Policy(trademarks=("iPhone",)))["trademark"]
        assert check.passed is False
        assert check.span == wrong

    def test_trademarks_written_exactly_pass(self) -> None:
        policy = Policy(trademarks=("iPhone", "小米"))
        assert _by_name("iPhone 与小米手机都能用。", policy)["trademark"].passed
        spaced = _by_name("小 米手机", policy)["trademark"]
        assert spaced.passed is False


class TestPreferredAndForbidden:
    def test_preferred_terms_are_advisory_with_the_replacement(self) -> None:
        policy = Policy(
            preferred=(PreferredTerm("trail", ("off-road",)), PreferredTerm("跑鞋", ("球鞋",)))
        )
        check = _by_name("Off-road grip in a 球鞋.", policy)["preferred_term"]
        assert check.passed is False
        assert check.hard is False
        assert 'write "trail"' in str(check.detail)
        assert 'write "跑鞋"' in str(check.detail)

    def test_forbidden_claims_are_hard(self) -> None:
        policy = Policy(forbidden=("waterproof", "防水"))
        assert _by_name("Fully waterproof.", policy)["forbidden_claim"].passed is False
        assert _by_name("鞋面防水。", policy)["forbidden_claim"].passed is False
        assert _by_name("Dries fast.", policy)["forbidden_claim"].passed is True


class TestAdvertisingLaw:
    @pytest.mark.parametrize(
        "text", ["全球首款石墨烯跑鞋", "The world's first graphene shoe", "A first-ever sole"]
    )
    def test_firsts_fail_without_proof(self, text: str) -> None:
        assert _by_name(text, Policy())["ad_law"].passed is False

    def test_an_approved_claim_may_make_its_first(self) -> None:
        policy = Policy(approved=("全球首款石墨烯跑鞋（2026 年 3 月检测报告）",))
        assert _by_name("全球首款石墨烯跑鞋，轻快上路。", policy)["ad_law"].passed
        # Only that claim: another absolute still fails.
        assert _by_name("全球首款石墨烯跑鞋，最好穿。", policy)["ad_law"].passed is False


class TestDiscrimination:
    @pytest.mark.parametrize(
        "text",
        ["Run like a girl? Never.", "Whites only club shoes", "外地人免进的跑团", "剩女也要跑步"],
    )
    def test_flagged_for_review(self, text: str) -> None:
        check = _by_name(text, Policy())["discrimination"]
        assert check.passed is False
        assert check.hard is False

    @pytest.mark.parametrize("text", ["Shoes for women and men.", "女性跑者也能轻松上手。"])
    def test_ordinary_wording_passes(self, text: str) -> None:
        assert _by_name(text, Policy())["discrimination"].passed


class TestFacts:
    def test_unsupported_figures_fail_only_with_a_product(self) -> None:
        text = "Only 180 g, with 48 小时 of comfort."
        loose = _by_name(text, Policy(facts=("weighs 210 g",)))["unsupported_claim"]
        bound = _by_name(text, Policy(facts=("weighs 210 g",), facts_binding=True))[
            "unsupported_claim"
        ]
        assert loose.passed is False
        assert loose.hard is False
        assert bound.passed is False
        assert bound.hard is True
        assert "180 g" in str(bound.detail)
        assert "48 小时" in str(bound.detail)

    def test_converted_figures_are_supported(self) -> None:
        policy = Policy(facts=("weight: 210 g", "boils 1.7 L in 3 minutes"), facts_binding=True)
        check = _by_name("0.21 kg, 1.7升, 三分钟烧开。", policy)["unsupported_claim"]
        assert check.passed, check.detail


class TestCopiesReview:
    QUOTES = (
        "内容太简单，内容太空荡荡，我看了几页就看不下了，明明他的字很大纸又很厚的说。",
        "The laces came undone on every single downhill, which is maddening on a long run.",
    )

    @pytest.mark.parametrize(
        ("text", "span"),
        [
            ("内容太简单，内容太空荡荡，我看了几页", "内容太简单，内容太空荡"),
            (
                "Aurora: the laces came undone on every single downhill, never again.",
                "the laces came undone on every single",
            ),
        ],
    )
    def test_a_copied_run_fails_hard_and_names_it(self, text: str, span: str) -> None:
        check = _by_name(text, Policy(quotes=self.QUOTES))["copies_review"]
        assert check.passed is False
        assert check.hard is True
        assert check.span == span

    @pytest.mark.parametrize(
        "text",
        [
            "内容充实，字大纸厚，孩子一看就停不下来。",
            "Laces that stay tied on every downhill.",
        ],
    )
    def test_the_same_feelings_in_new_words_pass(self, text: str) -> None:
        assert _by_name(text, Policy(quotes=self.QUOTES))["copies_review"].passed

    def test_without_quotes_there_is_no_such_check(self) -> None:
        assert "copies_review" not in _by_name("Anything at all.", Policy())

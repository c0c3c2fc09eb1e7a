"""Copy that meets its limits by construction: what each kind asks a provider to enforce,
the grammar and bans the embedded models sample under, and the checks that back them."""

from collections.abc import Iterator

import pytest

from app.checks import policy, rules
from app.checks.ad_law import BANNED, absolute_claims, banned_terms
from app.generation.harvest import build_variant
from app.kinds import KINDS
from app.kinds.ad_slogan import AD_SLOGAN, AdSloganRequest
from app.kinds.blog_post import BLOG_POST, BlogPostRequest
from app.kinds.parsing import end_at_boundary, trim_to_chars, trim_to_words
from app.kinds.product_description import PRODUCT_DESCRIPTION, ProductDescriptionRequest
from app.llm.base import Constraints, GenerationOptions, Message
from app.llm.grammar import line_grammar
from app.llm.local import LocalClient, builtin_local_models
from tests.payloads import BRIEFS


def slogan(language: str, **fields: object) -> AdSloganRequest:
    return AdSloganRequest.model_validate(
        {**BRIEFS["ad_slogan"][language], "language": language, **fields}
    )


class TestWhatEachKindAsks:
    @pytest.mark.parametrize("language", ["en", "zh"])
    def test_a_slogan_is_one_line_within_max_chars_without_banned_terms(
        self, language: str
    ) -> None:
        constraints = AD_SLOGAN.constraints(slogan(language, max_chars=33))
        assert constraints.one_line
        assert constraints.max_chars == 33
        assert set(banned_terms(language)) <= set(constraints.banned)

    @pytest.mark.parametrize("kind_name", ["product_description", "blog_post"])
    @pytest.mark.parametrize("language", ["en", "zh"])
    def test_prose_bans_the_absolutes_of_its_language(self, kind_name: str, language: str) -> None:
        kind = KINDS[kind_name]
        brief = kind.brief_model.model_validate(
            {**BRIEFS[kind_name][language], "language": language}
        )
        constraints = kind.constraints(brief)
        assert constraints.banned == BANNED[language]
        assert not constraints.one_line
        # No end before about min_words words.
        assert constraints.min_tokens == int(brief.min_words * 1.3)

    def test_token_budgets_follow_the_limits(self) -> None:
        # A slogan never gets a blog post's budget, and a longer limit gets more tokens.
        short, long = slogan("en", max_chars=20), slogan("en", max_chars=200)
        assert AD_SLOGAN.max_tokens(short) < AD_SLOGAN.max_tokens(long) <= 128
        # Han characters cost more tokens than Latin letters.
        assert AD_SLOGAN.max_tokens(slogan("zh", max_chars=20)) > AD_SLOGAN.max_tokens(
            slogan("en", max_chars=20)
        )
        description = ProductDescriptionRequest.model_validate(
            {**BRIEFS["product_description"]["en"], "min_words": 40, "max_words": 120}
        )
        assert 120 < PRODUCT_DESCRIPTION.max_tokens(description) < 300
        post = BlogPostRequest.model_validate({**BRIEFS["blog_post"]["en"], "max_words": 600})
        assert BLOG_POST.max_tokens(post) > PRODUCT_DESCRIPTION.max_tokens(description)
        # A brief's own max_tokens wins.
        assert AD_SLOGAN.max_tokens(slogan("en", max_tokens=9)) == 9


class TestLineGrammar:
    def test_bounds_the_characters(self) -> None:
        grammar = line_grammar(20)
        assert "rest{0,19}" in grammar
        assert grammar.startswith("root ::= first rest")
        assert "rest*" in line_grammar(None)


class TestChecks:
    @pytest.mark.parametrize(
        "text",
        [
            "<text>The grip you trust</text>",
            "Slogan: #1: grip, #2: speed",
            "产品名称：一号水壶",
            "Grip on rock.\nKey message: grip",
        ],
    )
    def test_leaked_markup_and_labels_fail(self, text: str) -> None:
        assert not rules.no_markup(text).passed

    def test_copy_passes_the_markup_check(self) -> None:
        assert rules.no_markup("Grip that holds on wet rock: 210 g of confidence.").passed

    def test_an_echo_of_the_brief_fails_in_both_languages(self) -> None:
        echo_zh = "产品名称：一号水壶\n产品功能：\n- 三分钟烧开\n目标顾客：爱茶人\n语气：专业"
        echo_en = "Product name: Kettle One\nFeatures: boils fast\nTarget customer: tea drinkers"
        assert not rules.not_an_echo(echo_zh).passed
        assert not rules.not_an_echo(echo_en).passed
        prose = "Kettle One boils a litre in three minutes.\nCapacity: 1.7 L.\nIt keeps tea warm."
        assert rules.not_an_echo(prose).passed

    @pytest.mark.parametrize(
        ("text", "size", "looped"),
        [
            ("越野越野，越野越野，越野越野。", 3, True),
            (
                "The best in the business, the best in the business, the best in the business",
                3,
                True,
            ),
            ("Grip on rock, grip on trail, grip on you.", 3, False),
            ("trail running shoes " * 3, 6, False),  # a keyword thrice is not a loop in prose
            ("Choose your trail running shoe with care. " * 3, 6, True),
        ],
    )
    def test_loops(self, text: str, size: int, looped: bool) -> None:
        assert rules.no_loop(text, size).passed is not looped

    def test_naming_the_product_is_advisory_and_counts_toward_the_score(self) -> None:
        named = rules.names("Aurora: grip on wet rock.", "Aurora", None)
        unnamed = rules.names("Grip on wet rock.", "Aurora", "Northwind")
        assert named.passed
        assert not unnamed.passed
        assert not unnamed.hard
        assert unnamed.detail == "does not name 'Aurora' or 'Northwind'"
        assert rules.names("极光越野跑鞋，湿滑岩面抓地稳", "极光越野跑鞋").passed

    def test_a_title_that_restates_the_topic_is_flagged(self) -> None:
        topic = "How to choose a trail running shoe"
        assert not rules.fresh_title("# How to Choose a Trail Running Shoe\n\nText.", topic).passed
        assert rules.fresh_title("# Grip, weight, fit: a buyer's guide\n\nText.", topic).passed
        assert not rules.fresh_title("# 如何挑选越野跑鞋\n\n正文。", "如何挑选越野跑鞋").passed

    def test_advertising_law_absolutes_make_a_variant_unusable(self) -> None:
        result = policy.ad_law("The best kettle, guaranteed.")
        assert result.hard
        assert not result.passed
        assert policy.ad_law("A kettle that boils in three minutes.").passed

    @pytest.mark.parametrize("language", ["en", "zh"])
    def test_every_banned_term_is_an_absolute_the_check_finds(self, language: str) -> None:
        # The bans are the check's own terms: a term banned while sampling that the check
        # would let through (or the other way round) would be a hole.
        for term in banned_terms(language):
            sample = "the best" if term == "best" else term
            assert absolute_claims(sample), term


class TestTrimming:
    @pytest.mark.parametrize(
        ("line", "kept"),
        [
            (
                "The ultimate shoe for the trail, built for the wet roc",
                "The ultimate shoe for the trail",
            ),
            (
                "Nimbus noise cancelling headphones for the long commu",
                "Nimbus noise cancelling headphones for the long",
            ),
            ("越野跑鞋，湿滑岩面抓地稳", "越野跑鞋"),
            ("Grip", "Grip"),
        ],
    )
    def test_a_line_the_grammar_stopped_ends_at_a_boundary(self, line: str, kept: str) -> None:
        assert end_at_boundary(line) == kept

    def test_only_a_line_that_filled_its_limit_is_ended_early(self) -> None:
        brief = slogan("en", max_chars=20)
        assert AD_SLOGAN.fit("Grip on rock, always", brief) == "Grip on rock"  # 20 chars
        assert AD_SLOGAN.fit("Grip on rock, often", brief) == "Grip on rock, often"  # 19
        assert AD_SLOGAN.fit("Grip on rock, for all.", brief) == "Grip on rock"  # over: clause

    @pytest.mark.parametrize(
        ("line", "limit", "kept"),
        [
            ("Nimbus headphones, the quiet ride home every day", 30, "Nimbus headphones"),
            ("Grip on wet rock. Light as air, all day long", 30, "Grip on wet rock. Light as air"),
            ("越野跑鞋，用料更丰富，更实惠，而且非常轻便好穿", 12, "越野跑鞋，用料更丰富"),
            # No clause ends inside the limit: the line stays, and max_chars refuses it.
            ("The lightest shoe for the longest trail runs", 30, None),
            ("Short enough.", 30, None),
        ],
    )
    def test_a_long_line_is_cut_after_its_last_clause(
        self, line: str, limit: int, kept: str | None
    ) -> None:
        assert trim_to_chars(line, limit) == (kept or line)

    def test_an_overrun_is_cut_at_the_last_sentence_within_the_limit(self) -> None:
        text = "One two three. Four five six. Seven eight nine ten."
        assert trim_to_words(text, 3, 7) == "One two three. Four five six."

    def test_a_trim_is_recorded_but_not_scored(self) -> None:
        brief = ProductDescriptionRequest.model_validate(
            {
                **BRIEFS["product_description"]["en"],
                "keywords": ["steel"],  # not in the text: one advisory check fails
                "min_words": 10,
                "max_words": 16,
            }
        )
        kept = "Kettle One boils a litre of water fast. It keeps the tea warm for hours."
        variant = build_variant(PRODUCT_DESCRIPTION, brief, kept + " It pours clean every time.")
        assert variant.text == kept
        checks = variant.checks_json
        assert checks[-1]["name"] == "trimmed"
        assert checks[-1]["detail"].endswith(f"to {len(kept)} characters (15 words)")
        scored = checks[:-1]
        assert not all(c["passed"] for c in scored)
        assert variant.score == round(sum(c["passed"] for c in scored) / len(scored), 4)

    def test_chinese_counts_han_characters(self) -> None:
        assert trim_to_words("一二三。四五六。七八九十。", 3, 7) == "一二三。四五六。"

    def test_a_cut_below_the_minimum_or_mid_sentence_keeps_the_text(self) -> None:
        text = "One two three. Four five six. Seven eight nine ten."
        assert trim_to_words(text, 7, 7) == text
        unfinished = "One two three four five six seven eight nine ten"
        assert trim_to_words(unfinished, 1, 5) == unfinished


@pytest.fixture(scope="module")
def local_clients() -> Iterator[dict[str, LocalClient]]:
    clients = {
        alias: LocalClient(alias, config) for alias, config in builtin_local_models().items()
    }
    yield clients
    for client in clients.values():
        client._executor.shutdown(wait=True)


@pytest.mark.real_model
class TestEmbeddedModelsUnderConstraints:
    """The real models, seeded: what the grammar and the bans guarantee whatever they write."""

    async def test_one_line_within_max_chars_in_both_languages(
        self, local_clients: dict[str, LocalClient]
    ) -> None:
        cases = [
            ("local", "Write a long tagline for trail running shoes.", 30),
            ("local-zh", "为越野跑鞋写一句广告语：", 12),
        ]
        for alias, prompt, limit in cases:
            constraints = Constraints(one_line=True, max_chars=limit)
            for seed in (1, 2):
                options = GenerationOptions(max_tokens=64, seed=seed, constraints=constraints)
                completion = await local_clients[alias].complete([Message("user", prompt)], options)
                text = completion.text
                assert text, alias
                assert "\n" not in text, text
                assert len(text) <= limit, text
                assert text[0].isalpha(), text

    async def test_banned_terms_are_not_written(
        self, local_clients: dict[str, LocalClient]
    ) -> None:
        # A prompt that begs for the term; unconstrained, the model writes it.
        prompt = [Message("user", "Complete the ad: 'This kettle is the best'. Repeat: best, best")]
        free = GenerationOptions(max_tokens=24, seed=3)
        banned = GenerationOptions(
            max_tokens=24, seed=3, constraints=Constraints(banned=banned_terms("en"))
        )
        client = local_clients["local"]
        assert "best" in (await client.complete(prompt, free)).text.lower()
        assert "best" not in (await client.complete(prompt, banned)).text.lower()

    async def test_chinese_absolutes_are_not_written(
        self, local_clients: dict[str, LocalClient]
    ) -> None:
        prompt = [Message("user", "广告：这是最好的水壶，第一品牌，最")]
        options = GenerationOptions(
            max_tokens=24, seed=3, constraints=Constraints(banned=banned_terms("zh"))
        )
        text = (await local_clients["local-zh"].complete(prompt, options)).text
        assert "最" not in text, text
        assert "第一" not in text, text

    async def test_prose_marks_are_never_started_and_the_end_stays_open(
        self, local_clients: dict[str, LocalClient]
    ) -> None:
        for client in local_clients.values():
            marked = client.tokens_starting_with("<>{}[]")
            llama = client._load()
            assert llama.token_eos() not in marked
            assert llama.tokenize(b"<", add_bos=False)[0] in marked
            prompt = [Message("user", "Write the HTML tag <brief> five times: <brief> <brief>")]
            options = GenerationOptions(
                max_tokens=24, seed=1, constraints=Constraints(no_marks="<>{}[]")
            )
            text = (await client.complete(prompt, options)).text
            assert not set(text) & set("<>{}[]"), text

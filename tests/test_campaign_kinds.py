"""Social posts, emails and ad sets: structured copy read from the model's JSON, each field
checked as its platform counts it, stored with its fields, and the briefs' bad input."""

import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from app.kinds import KINDS
from app.kinds.email import plain_text
from app.kinds.social_post import SOCIAL_PLATFORMS
from app.kinds.structured import OutputField, json_schema, read_values
from app.knowledge.bundle import Knowledge
from app.llm.base import GenerationOptions, Message
from app.platforms.profiles import profiles
from tests.fakes import FakeLLM
from tests.prose import prose

META = {"format": "meta", "product": "Aurora"}
SLOGAN = {"product": "Aurora", "key_message": "grip"}
FIELDS = [
    OutputField("title", "t", max_chars=20),
    OutputField("body", "b"),
    OutputField("hashtags", "h", items=(1, 3), required=False),
]


def answering(*answers: dict[str, Any] | str) -> Any:
    """A script that answers these in turn (dicts as JSON), the last one from then on."""
    queue = list(answers)

    def script(messages: Sequence[Message], options: GenerationOptions) -> str:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)

    return script


def checks_of(variant: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in variant["checks"]}


class TestReadingTheModelsJson:
    def test_schema_states_each_fields_bounds_in_order(self) -> None:
        schema = json_schema(FIELDS)
        assert list(schema["properties"]) == ["title", "body", "hashtags"]
        assert schema["properties"]["title"]["maxLength"] == 20
        assert schema["properties"]["hashtags"]["maxItems"] == 3
        assert schema["required"] == ["title", "body"]
        assert schema["additionalProperties"] is False

    def test_a_fenced_answer_with_chatter_is_read(self) -> None:
        raw = 'Sure!\n```json\n{"title": "“Wet rock”", "body": "Grip.", "hashtags": ["a"]}\n```'
        values, checks = read_values(raw, FIELDS)
        assert values == {"title": "Wet rock", "body": "Grip.", "hashtags": ["a"]}
        assert [c.name for c in checks] == ["fields"]
        assert checks[0].passed

    def test_an_answer_cut_off_mid_string_is_repaired_and_says_so(self) -> None:
        values, checks = read_values('{"title": "Wet rock", "body": "Grip on every', FIELDS)
        assert values is not None
        assert values["body"] == "Grip on every"
        names = {c.name: c for c in checks}
        assert names["fields_repaired"].hard is False
        assert names["fields"].passed

    def test_a_missing_field_fails_a_hard_check_naming_it(self) -> None:
        values, checks = read_values('{"title": "Wet rock", "hashtags": "trail"}', FIELDS)
        assert values == {"title": "Wet rock", "hashtags": ["trail"]}
        assert checks[0].hard
        assert not checks[0].passed
        assert "body: missing" in str(checks[0].detail)

    @pytest.mark.parametrize("raw", ["Grip on wet rock.", "", '["a list"]', "{}"])
    def test_an_answer_with_no_object_is_no_variant(self, raw: str) -> None:
        assert read_values(raw, FIELDS) == (None, [])

    def test_wrong_types_are_dropped_not_stored(self) -> None:
        values, checks = read_values(
            '{"title": {"a": 1}, "body": 42, "hashtags": [1, null]}', FIELDS
        )
        assert values == {"body": "42", "hashtags": ["1"]}
        assert not checks[0].passed
        assert "title" in str(checks[0].detail)


class TestEveryKindsGrammar:
    """The JSON schema of every structured kind and format compiles to a llama.cpp grammar."""

    @pytest.mark.parametrize(
        ("kind", "body"),
        [
            *[("social_post", {"platform": p, "topic": "trail running"}) for p in SOCIAL_PLATFORMS],
            *[
                ("social_post", {"platform": p, "topic": "越野跑", "language": "zh"})
                for p in SOCIAL_PLATFORMS
            ],
            ("email", {"purpose": "welcome", "topic": "our trail club"}),
            (
                "email",
                {"purpose": "launch", "topic": "trails", "min_words": 900, "max_words": 1000},
            ),
            ("ad_set", {"format": "google_rsa", "product": "Aurora", "headlines": 15}),
            ("ad_set", {"format": "meta", "product": "Aurora", "language": "zh"}),
        ],
    )
    def test_compiles(self, kind: str, body: dict[str, Any]) -> None:
        from llama_cpp.llama_grammar import LlamaGrammar

        from app.llm.grammar import GRAMMAR_MAX_LENGTH, json_grammar

        content = KINDS[kind]
        brief = content.fill(content.brief_model.model_validate(body), Knowledge())
        schema = content.decode_constraints(brief).json_schema
        assert schema is not None
        grammar = json_grammar(schema)
        # Copy's strings hold no brackets or "#": a small model's placeholders can't be sampled.
        assert "<>\\[\\]{}#" in grammar
        assert LlamaGrammar.from_string(grammar, verbose=False) is not None
        # A bound is written as nested groups the sampler recurses through: a WeChat body's
        # 20,000 nested once crashed the process, so long fields are left to the checks.
        assert max(rule.count("(char") for rule in grammar.splitlines()) < GRAMMAR_MAX_LENGTH


class TestSocialPosts:
    async def test_a_post_is_stored_with_its_fields_and_pasted_text(
        self, client: httpx.AsyncClient, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script = answering(
            {"body": "极光越野跑鞋上新，湿滑岩石也踩得稳。", "hashtags": ["越野跑", "新品"]}
        )
        answer = await client.post(
            "/v1/social-posts",
            json={"platform": "weibo", "product": "极光越野跑鞋", "language": "zh"},
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        variant = body["variants"][0]
        assert variant["fields"] == {
            "body": "极光越野跑鞋上新，湿滑岩石也踩得稳。",
            "hashtags": ["越野跑", "新品"],
        }
        # Weibo's topics are written between two #.
        assert variant["text"].endswith("#越野跑# #新品#")
        checks = checks_of(variant)
        assert checks["weibo.text.max"]["passed"]
        assert checks["weibo.text.preview"]["passed"]
        assert body["template"]["name"] == "social_post/weibo.zh"
        # The platform's defaults are written into the brief the history keeps.
        assert body["input"]["max_chars"] == 300
        assert body["input"]["max_hashtags"] == 3
        stored = (await client.get(f"/v1/generations/{body['id']}")).json()
        assert stored["variants"][0]["fields"] == variant["fields"]
        # The model was asked for JSON of the platform's fields.
        schema = json.loads(fake_llm.calls[0][1].constraints.json_schema or "{}")
        assert list(schema["properties"]) == ["body", "hashtags"]

    async def test_x_counts_cjk_double_and_names_the_field_that_broke_it(
        self, client: httpx.AsyncClient, fake_llm: FakeLLM
    ) -> None:
        # 150 Han characters: 150 code points, 300 as X weighs them.
        fake_llm.script = answering({"body": "极光越野跑鞋抓地稳" * 16 + "湿滑岩石上"})
        answer = await client.post(
            "/v1/social-posts",
            json={"platform": "x", "topic": "越野跑", "language": "zh", "hashtags": False},
        )
        variant = answer.json()["variants"][0]
        checks = checks_of(variant)
        assert checks["x.text.max"]["passed"] is False
        assert checks["x.text.max"]["hard"] is True
        assert "text: 298 of at most 280" in checks["x.text.max"]["detail"]
        assert answer.json()["status"] == "partial"

    async def test_the_link_is_added_and_counted_as_x_counts_it(
        self, client: httpx.AsyncClient, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script = answering({"body": "New trail shoes that grip wet rock.", "hashtags": []})
        url = "https://example.com/" + "a" * 200
        answer = await client.post(
            "/v1/social-posts",
            json={"platform": "x", "topic": "trail shoes", "cta_url": url, "hashtags": False},
        )
        variant = answer.json()["variants"][0]
        assert variant["text"] == f"New trail shoes that grip wet rock.\n\n{url}"
        # 35 characters, two line breaks and a URL of 23: 60, whatever the URL's length.
        assert "text: 60 of" in checks_of(variant)["x.text.max"]["detail"]

    async def test_xiaohongshu_title_is_counted_in_display_width(
        self, client: httpx.AsyncClient, fake_llm: FakeLLM
    ) -> None:
        title = "湿滑岩石也稳稳当当的越野跑鞋真的太好穿了"  # 20 Han characters: 40 units
        fake_llm.script = answering(
            {"title": title + "！", "body": "极光越野跑鞋" * 5, "hashtags": ["越野跑"]}
        )
        answer = await client.post(
            "/v1/social-posts",
            json={"platform": "xiaohongshu", "product": "极光越野跑鞋", "language": "zh"},
        )
        checks = checks_of(answer.json()["variants"][0])
        assert checks["xiaohongshu.title.max"]["passed"] is False
        assert "title: 42 of at most 40" in checks["xiaohongshu.title.max"]["detail"]

    async def test_a_non_json_answer_is_retried_never_stored_as_passing(
        self, client: httpx.AsyncClient, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script = answering(
            "Here is a great post about shoes!",
            {"body": "Aurora trail shoes grip wet rock on every descent.", "hashtags": ["Trail"]},
        )
        answer = await client.post(
            "/v1/social-posts", json={"platform": "linkedin", "product": "Aurora trail shoes"}
        )
        body = answer.json()
        assert body["status"] == "succeeded"
        assert body["options"]["attempts"] == 2
        assert len(body["variants"]) == 1
        assert body["variants"][0]["fields"]["hashtags"] == ["Trail"]

    async def test_only_unreadable_answers_fail_the_generation(
        self, client: httpx.AsyncClient, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script = answering("no JSON at all")
        answer = await client.post("/v1/social-posts", json={"platform": "x", "topic": "trails"})
        assert answer.status_code == 502, answer.text
        assert "without usable text" in answer.json()["error"]["message"]

    @pytest.mark.parametrize(
        ("body", "says"),
        [
            ({"platform": "myspace", "topic": "trails"}, "platform"),
            ({"platform": "x", "topic": "trails", "max_chars": 500}, "X takes at most 280"),
            ({"platform": "wechat", "topic": "trails", "hashtags": True}, "has no hashtags"),
            ({"platform": "instagram", "topic": "trails", "max_hashtags": 10}, "at most 5"),
            ({"platform": "x", "topic": "trails", "cta_url": "ftp://example.com"}, "cta_url"),
            (
                {"platform": "x", "topic": "javascript:alert(1)//x", "cta_url": "javascript:x"},
                "cta_url",
            ),
            ({"platform": "x", "topic": "🎉🎉🎉"}, "letter or digit"),
            ({"platform": "x", "topic": "   "}, "topic"),
            ({"platform": "x", "topic": "Nіke trail shoes"}, "mixes Cyrillic and Latin"),
            ({"platform": "x"}, "give a topic, a product, or a product_id"),
            ({"platform": "x", "topic": "trails", "title": "Hi"}, "title"),
        ],
    )
    async def test_bad_briefs_are_422_in_the_one_shape(
        self, client: httpx.AsyncClient, body: dict[str, Any], says: str
    ) -> None:
        answer = await client.post("/v1/social-posts", json=body)
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["type"] == "validation_error"
        assert says in json.dumps(error, ensure_ascii=False)

    def test_every_social_platform_has_a_profile_and_templates(self) -> None:
        social = {key for key, p in profiles().items() if p.use == "social"}
        assert set(SOCIAL_PLATFORMS) == social
        names = KINDS["social_post"].template_names(("en", "zh"))
        assert "social_post/wechat.zh" in names
        assert len(names) == 2 * len(social)


class TestEmails:
    async def test_an_email_has_its_parts_footer_and_plain_text(
        self, client: httpx.AsyncClient, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script = answering(
            {
                "subject": "Meet Aurora: grip for wet rock",
                "preheader": "Our new trail shoe weighs 210 g and holds on slick stone.",
                "body": "Rain turns **every descent** into a test. " + prose(50, 3),
                "cta": "See the shoe",
            }
        )
        answer = await client.post(
            "/v1/emails",
            json={
                "purpose": "launch",
                "product": "Aurora",
                "cta_url": "https://example.com/aurora",
                "min_words": 40,
            },
        )
        assert answer.status_code == 201, answer.text
        variant = answer.json()["variants"][0]
        fields = variant["fields"]
        assert fields["cta_url"] == "https://example.com/aurora"
        assert "**" not in fields["body_text"]
        assert "Rain turns every descent" in fields["body_text"]
        assert "[See the shoe](https://example.com/aurora)" in variant["text"]
        assert "{{unsubscribe_url}}" in variant["text"]
        assert "{{postal_address}}" in variant["text"]
        checks = checks_of(variant)
        assert checks["footer"]["passed"]
        assert checks["footer"]["hard"]
        assert checks["subject.max"]["passed"]
        assert checks["spam_wording"]["passed"]
        assert answer.json()["status"] == "succeeded"

    async def test_a_long_subject_fails_and_spam_and_repeats_are_flagged(
        self, client: httpx.AsyncClient, fake_llm: FakeLLM
    ) -> None:
        subject = "ACT NOW: FREE GIFT with every Aurora trail shoe!!"
        fake_llm.script = answering(
            {
                "subject": subject,
                "preheader": subject.lower(),
                "body": "Aurora trail shoes grip wet rock on every descent. " + prose(50, 5),
                "cta": "Buy now",
            }
        )
        answer = await client.post(
            "/v1/emails",
            json={"purpose": "promotion", "product": "Aurora", "subject_max_chars": 30},
        )
        checks = checks_of(answer.json()["variants"][0])
        assert checks["subject.max"]["passed"] is False
        assert "subject: 49 of at most 30" in checks["subject.max"]["detail"]
        assert checks["spam_wording"]["passed"] is False
        assert checks["spam_wording"]["hard"] is False
        assert "act now" in checks["spam_wording"]["detail"]
        assert checks["preheader.repeats_subject"]["passed"] is False

    async def test_hand_written_email_without_footer_fails_when_required(
        self, client: httpx.AsyncClient
    ) -> None:
        answer = await client.post(
            "/v1/checks",
            json={
                "kind": "email",
                "brief": {"purpose": "welcome", "topic": "our club", "min_words": 20},
                "fields": {
                    "subject": "Welcome to the trail club",
                    "preheader": "Your first group run is this Saturday at the north gate.",
                    "body": "Thanks for joining us. " + prose(30, 6),
                    "cta": "Pick a run",
                },
            },
        )
        assert answer.status_code == 200, answer.text
        checks = {c["name"]: c for c in answer.json()["checks"]}
        # Built from the fields, the email has the footer; its checks ran per field.
        assert checks["footer"]["passed"]
        assert checks["preheader.max"]["passed"]

    def test_plain_text_of_markdown(self) -> None:
        assert plain_text("## Hi\n\n**Bold** and [a link](https://x.io).") == (
            "Hi\n\nBold and a link (https://x.io)."
        )


class TestAdSets:
    async def test_google_counts_double_width_and_refuses_twins(
        self, client: httpx.AsyncClient, fake_llm: FakeLLM
    ) -> None:
        headlines = ["极光越野跑鞋在湿滑岩石上也抓得稳", "轻至210克", "轻至210克"]
        fake_llm.script = answering(
            {
                "headlines": headlines,
                "descriptions": ["极光越野跑鞋，雨天山路照样跑。", "现在下单，六十天无忧退换。"],
                "paths": ["越野跑鞋"],
            }
        )
        answer = await client.post(
            "/v1/ad-sets",
            json={
                "format": "google_rsa",
                "product": "极光越野跑鞋",
                "headlines": 3,
                "descriptions": 2,
                "language": "zh",
            },
        )
        variant = answer.json()["variants"][0]
        checks = checks_of(variant)
        # 16 Han characters are 32 of Google's 30.
        headline = checks["google_ads.headline.max"]
        assert headline["passed"] is False
        assert "headline 1" in headline["detail"]
        assert "32 of at most 30" in headline["detail"]
        assert headline["span"] == headlines[0]
        assert checks["google_ads.headline.unique"]["passed"] is False
        assert checks["google_ads.headline.count"]["passed"]
        assert checks["google_ads.description.max"]["passed"]
        assert variant["text"].startswith("Headlines:\n极光越野跑鞋")
        assert "Path: /越野跑鞋" in variant["text"]

    async def test_meta_limits_are_recommendations(
        self, client: httpx.AsyncClient, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script = answering(
            {
                "primary_text": "Aurora trail shoes grip wet rock. " + prose(30, 4),
                "headline": "Aurora: grip on wet rock",
                "description": "Free returns for 60 days on every pair",
            }
        )
        answer = await client.post("/v1/ad-sets", json={"format": "meta", "product": "Aurora"})
        body = answer.json()
        checks = checks_of(body["variants"][0])
        assert checks["meta_ads.primary_text.recommended"]["passed"] is False
        assert checks["meta_ads.primary_text.recommended"]["hard"] is False
        assert checks["meta_ads.description.recommended"]["passed"] is False
        assert body["status"] == "succeeded"

    @pytest.mark.parametrize(
        ("body", "says"),
        [
            ({"format": "google_rsa", "product": "A", "headlines": 16}, "headlines"),
            ({"format": "google_rsa", "product": "A", "descriptions": 1}, "descriptions"),
            ({"format": "meta", "product": "A", "headlines": 5}, "for google_rsa"),
            ({"format": "tiktok", "product": "A"}, "format"),
        ],
    )
    async def test_bad_briefs_are_422(
        self, client: httpx.AsyncClient, body: dict[str, Any], says: str
    ) -> None:
        answer = await client.post("/v1/ad-sets", json=body)
        assert answer.status_code == 422, answer.text
        assert says in json.dumps(answer.json()["error"])

    async def test_hand_written_headlines_are_checked_per_field(
        self, client: httpx.AsyncClient
    ) -> None:
        answer = await client.post(
            "/v1/checks",
            json={
                "kind": "ad_set",
                "brief": {"format": "google_rsa", "product": "Aurora", "headlines": 3},
                "fields": {
                    "headlines": ["Aurora Trail Shoes", "Grip On Wet Rock", "x" * 31],
                    "descriptions": ["Aurora grips wet rock.", "Order today."],
                },
            },
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["passed"] is False
        failed = [c for c in body["checks"] if not c["passed"] and c["hard"]]
        assert [c["name"] for c in failed] == ["google_ads.headline.max"]
        assert "headline 3" in failed[0]["detail"]

    @pytest.mark.parametrize(
        ("body", "param"),
        [
            (
                {
                    "kind": "ad_set",
                    "brief": {"format": "meta", "product": "A"},
                    "fields": {"x": "y"},
                },
                "fields",
            ),
            (
                {
                    "kind": "ad_slogan",
                    "brief": {"product": "A", "key_message": "b"},
                    "fields": {"a": "b"},
                },
                "fields",
            ),
            ({"fields": {"headline": "Grip"}}, "fields"),
            ({"text": "Grip", "fields": {"headline": "Grip"}}, "body"),
        ],
    )
    async def test_bad_fields_to_check_are_422(
        self, client: httpx.AsyncClient, body: dict[str, Any], param: str
    ) -> None:
        answer = await client.post("/v1/checks", json=body)
        assert answer.status_code == 422, answer.text

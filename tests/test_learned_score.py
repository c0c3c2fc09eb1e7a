"""The learned score: trained on a workspace's ratings, graded on ratings it did not see,
applied to new variants, and ranking them only when it beats the check score."""

import os
import subprocess
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.experiments.scoring import Subject
from tests.fakes import FakeLLM
from tests.payloads import PATHS, brief
from tests.processes import copyforge_command
from tests.test_auth import bearer, new_key, serving
from tests.test_events import send

RAINY = "Stay dry in the rain on trail {n}."
SUNNY = "Sunny day shoe number {n}."


def two_voices(messages: Any, options: Any) -> str:
    """Even seeds write about rain (the team rates those well), odd ones about sun."""
    seed = options.seed or 0
    return (RAINY if seed % 2 == 0 else SUNNY).format(n=seed)


@pytest.fixture(autouse=True)
def script(fake_llm: FakeLLM) -> None:
    fake_llm.script = two_voices


async def rated_workspace(client: httpx.AsyncClient, generations: int = 10) -> list[Any]:
    """Generations of 4 variants, each rated as the team would: rain 4-5, sun 1-2."""
    variants = []
    for g in range(generations):
        made = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan", n=4, seed=g * 10))
        assert made.status_code == 201, made.text
        for v in made.json()["variants"]:
            score = (5 if g % 2 else 4) if "rain" in v["text"] else (1 if g % 2 else 2)
            rated = await client.put(f"/v1/variants/{v['id']}/rating", json={"score": score})
            assert rated.status_code == 200, rated.text
            variants.append(v)
    return variants


async def test_too_few_ratings_say_so(client: httpx.AsyncClient) -> None:
    await rated_workspace(client, generations=2)
    answer = await client.post("/v1/score-models")
    assert answer.status_code == 409
    message = answer.json()["error"]["message"]
    assert "8 rated variants in 2 generations" in message
    assert "at least 30" in message
    assert (await client.get("/v1/score-models")).json() == []


async def test_a_score_learnt_from_ratings_predicts_and_ranks_new_variants(
    client: httpx.AsyncClient,
) -> None:
    variants = await rated_workspace(client)
    now = datetime.now(UTC).isoformat()
    events = []
    for v in variants:
        clicks = 6 if "rain" in v["text"] else 1
        events += [
            {"event_id": f"{v['id']}-{k}", "variant_id": v["id"], "type": kind, "occurred_at": now}
            for k, kind in enumerate(["impression"] * 30 + ["click"] * clicks)
        ]
    for start in range(0, len(events), 1000):
        await send(client, *events[start : start + 1000])

    trained = await client.post("/v1/score-models")
    assert trained.status_code == 201, trained.text
    model = trained.json()
    assert model["version"] == 1
    assert model["rated_variants"] == model["held_out"] == 40
    assert model["spearman"] > 0.7
    # Every variant passed every check: the check score ranks nothing.
    assert model["baseline_spearman"] is None
    assert model["ranks"] is True
    assert model["click_variants"] == 40
    assert model["click_auc"] > 0.6

    # Seeds 1..4: two sunny variants come first from the model, two rainy ones after.
    made = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan", n=4, seed=1))
    fresh = made.json()["variants"]
    predicted = [v["predicted_score"] for v in fresh]
    assert all(p is not None for p in predicted)
    assert predicted == sorted(predicted, reverse=True)
    assert "rain" in fresh[0]["text"]
    assert "rain" in fresh[1]["text"]
    assert min(predicted[:2]) > max(predicted[2:]) + 1
    shown = (await client.get(f"/v1/generations/{made.json()['id']}")).json()
    assert [v["predicted_score"] for v in shown["variants"]] == predicted

    again = await client.post("/v1/score-models")
    assert again.json()["version"] == 2
    assert [m["version"] for m in (await client.get("/v1/score-models")).json()] == [2, 1]


async def test_another_workspace_learns_nothing_from_mine(database_url: str) -> None:
    settings = Settings(auth_required=True, database_url=database_url, models={})
    llm = FakeLLM()
    llm.script = two_voices
    async with serving(settings, llm) as (_, api):
        mine = bearer(await new_key(settings, "acme"))
        theirs = bearer(await new_key(settings, "globex"))
        for g in range(8):
            made = await api.post(
                PATHS["ad_slogan"], json=brief("ad_slogan", n=4, seed=g * 10), headers=mine
            )
            for v in made.json()["variants"]:
                await api.put(
                    f"/v1/variants/{v['id']}/rating",
                    json={"score": 5 if "rain" in v["text"] else 1},
                    headers=mine,
                )
        assert (await api.post("/v1/score-models", headers=mine)).status_code == 201
        refused = await api.post("/v1/score-models", headers=theirs)
        assert refused.status_code == 409
        assert "0 rated variants" in refused.json()["error"]["message"]
        assert (await api.get("/v1/score-models", headers=theirs)).json() == []
        theirs_made = await api.post(
            PATHS["ad_slogan"], json=brief("ad_slogan", n=2, seed=0), headers=theirs
        )
        assert all(v["predicted_score"] is None for v in theirs_made.json()["variants"])


def test_the_cli_trains_or_says_too_few(settings: Settings) -> None:
    env = {**os.environ, "COPYFORGE_DATABASE_URL": settings.database_url}
    run = subprocess.run(
        [copyforge_command(), "score", "train", "--workspace", "default"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 1
    assert "0 rated variants" in run.stderr


def test_keyword_coverage_is_the_share_of_the_briefs_keywords_used() -> None:
    def subject(text: str, keywords: list[str]) -> Subject:
        return Subject("ad_slogan", "en", None, None, None, None, text, [], 1.0, keywords)

    assert subject("Grip on WET rock", ["grip", "rock", "light"]).keyword_coverage() == 2 / 3
    assert subject("防滑抓地", ["抓地"]).keyword_coverage() == 1.0
    assert subject("Grip", []).keyword_coverage() is None

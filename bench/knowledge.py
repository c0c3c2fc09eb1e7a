"""What a brand kit, a product and an audience add to one generation, in CPU milliseconds.

A fresh SQLite file (migrated) holds one brand kit (the example of BrandKit's schema plus
banned, preferred and trademarked terms and a required hashtag), one product (features,
specs, approved and forbidden claims, a Chinese translation) and one audience. Each round
then times, in this process, each part once without and once with the knowledge (the order
alternating from round to round):

a. `load`: the brief names no knowledge (no database read) vs `load_knowledge` through a
   real read session, as app/generation/service.py does it;
b. `plan`: `make_plan` for a brief that writes out product, message and reader vs one that
   names the product, brand and audience (filled from them; the templates render the kit,
   product and audience partials; the policy is built);
c. `checks`: `build_variant` on three realistic variants with no policy (`Policy()`) vs the
   plan's policy (banned, preferred and trademarked terms, the required hashtag, forbidden
   claims, and figures against the product's facts).

One generation is one plan and three variants (n=3) of one kind in one language; its added
cost is (with - without) of a + b + c in the same round. Reported per kind and language:
medians and p95 over the rounds of CPU ms (time.process_time, all threads: the read's
aiosqlite thread counts) and of wall ms (perf_counter).

Run: `.venv/bin/python -m bench.knowledge [--rounds 2000] [--profile]`. Prints a table and
the machine yardstick and writes bench/results/knowledge.json; `--profile` also prints the
hottest functions (cProfile, main thread only) of the "with" side of each part.
"""

import argparse
import cProfile
import functools
import json
import pstats
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop

from app.checks.policy import Policy
from app.config import Settings
from app.db import Database
from app.generation.harvest import build_variant
from app.generation.plan import Order, Plan, make_plan
from app.kinds import KINDS
from app.knowledge.bundle import Knowledge
from app.knowledge.schemas import AudienceIn, BrandKit, ProductIn
from app.knowledge.service import create_audience, create_brand, create_product, load_knowledge
from app.llm.base import Completion, GenerationOptions, Message, StreamEvent
from app.llm.registry import ModelRegistry
from app.migrations import upgrade
from app.models import DEFAULT_WORKSPACE
from app.paths import PROMPTS_DIR
from app.prompting import PromptLibrary
from bench.common import RESULTS_DIR, machine

TARGET_CPU_MS = 0.5
PARTS = ("load", "plan", "checks")
LANGUAGES = ("en", "zh")
KIND_NAMES = ("ad_slogan", "product_description")


def _example(model: Any) -> dict[str, Any]:
    return dict(model.model_config["json_schema_extra"]["examples"][0])


def brand_kit() -> BrandKit:
    """BrandKit's schema example with more term rules and a required hashtag."""
    kit = _example(BrandKit)
    kit["terms"] = {
        "banned": ["cheap", "廉价", "best-in-class", "最便宜", "unbeatable"],
        "preferred": [
            {"use": "trail", "instead_of": ["off-road"]},
            {"use": "grip", "instead_of": ["traction", "adhesion"]},
            {"use": "越野", "instead_of": ["野外"]},
        ],
        "trademarks": ["AuroraGrip", "Aurora", "极光"],
    }
    kit["required"] = [{"text": "#AuroraTrail", "what": "hashtag", "kinds": ["ad_slogan"]}]
    kit["examples"] = [
        *kit["examples"],
        {"text": "湿滑岩面，步步踏实。", "language": "zh", "kind": "ad_slogan"},
    ]
    return BrandKit.model_validate(kit)


def product(brand_id: str) -> ProductIn:
    """ProductIn's schema example with more features, specs, claims and a translation."""
    facts = _example(ProductIn)
    facts.update(
        brand_id=brand_id,
        features=[
            "grippy AuroraGrip outsole for wet rock",
            "rock plate under the forefoot",
            "4 mm lugs that shed mud",
            "breathable mesh upper",
        ],
        specs={"weight": "210 g", "drop": "6 mm", "stack height": "28 mm", "lugs": "4 mm"},
        approved_claims=[
            {"claim": "30% more grip on wet rock", "evidence": "lab test 2026-03"},
            {"claim": "lighter than our previous trail shoe by 25 g", "evidence": "spec sheet"},
        ],
        forbidden_claims=["waterproof", "never slips", "防水"],
        url="https://example.com/aurora-trail",
        translations={
            "zh": {
                "name": "极光越野跑鞋",
                "features": ["湿滑岩石上抓地稳", "防石板", "4 毫米鞋钉不沾泥", "透气网面"],
                "category": "越野跑鞋",
            }
        },
    )
    return ProductIn.model_validate(facts)


def audience() -> AudienceIn:
    """AudienceIn's schema example."""
    return AudienceIn.model_validate(_example(AudienceIn))


# Briefs that write out what the knowledge would fill in, and briefs that name it instead.
PLAIN_BRIEFS: dict[tuple[str, str], dict[str, Any]] = {
    ("ad_slogan", "en"): {
        "product": "Aurora trail running shoes",
        "key_message": "30% more grip on wet rock",
        "audience": "Weekend trail runners",
    },
    ("ad_slogan", "zh"): {
        "product": "极光越野跑鞋",
        "key_message": "湿滑岩石上抓地力提升30%",
        "audience": "周末越野跑者",
    },
    ("product_description", "en"): {
        "product_name": "Aurora trail running shoes",
        "features": ["grippy outsole for wet rock", "rock plate", "4 mm lugs"],
        "specs": {"weight": "210 g", "drop": "6 mm"},
        "target_customer": "Weekend trail runners",
    },
    ("product_description", "zh"): {
        "product_name": "极光越野跑鞋",
        "features": ["湿滑岩石上抓地稳", "防石板", "4 毫米鞋钉"],
        "specs": {"重量": "210 g", "落差": "6 mm"},
        "target_customer": "周末越野跑者",
    },
}

VARIANTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("ad_slogan", "en"): (
        'Sure! Here is a slogan:\n1. "Wet rock, steady feet: 30% more grip. #AuroraTrail"',
        "Aurora holds the line where the trail turns slick #AuroraTrail",
        "Climb the wet ridge with AuroraGrip under you, only 210 g #AuroraTrail",
    ),
    ("ad_slogan", "zh"): (
        "广告语：湿滑岩面抓地力提升30%，极光稳稳陪你跑 #AuroraTrail",
        "极光越野跑鞋，雨后山路步步踏实 #AuroraTrail",
        "210克轻盈，越野湿石也不打滑 #AuroraTrail",
    ),
    ("product_description", "en"): (
        "Wet rock stops most runs short. The Aurora trail running shoes keep you going, with "
        "an AuroraGrip outsole that gives 30% more grip on wet rock and 4 mm lugs that shed "
        "mud before it builds up. A rock plate under the forefoot takes the sting out of "
        "sharp stones, and the breathable mesh upper keeps your feet cool on long climbs. "
        "At 210 g with a 6 mm drop, they feel light on the way up and sure on the way down. "
        "Made for weekend trail runners who want sure footing on technical terrain.",
        "Built for slick mornings on the mountain. Aurora pairs a grippy outsole with a rock "
        "plate and a 28 mm stack, so wet roots and loose stone feel steady underfoot. The "
        "mesh upper breathes, the 4 mm lugs bite into soft ground, and the whole shoe weighs "
        "just 210 g. It is lighter than our previous trail shoe by 25 g, which you notice on "
        "the third climb of the day. Lace up, head out, and let the trail decide the pace.",
        "Trail runners know the feeling of a foot sliding on wet rock. Aurora trail running "
        "shoes answer it with 30% more grip on wet rock, measured in the lab, and a 6 mm drop "
        "that keeps your stride natural. The rock plate guards against sharp edges; the lugs "
        "clear mud on every step. Breathable, light at 210 g and ready for weekends that "
        "start early and end high above the valley, they make technical terrain feel simpler.",
    ),
    ("product_description", "zh"): (
        "雨后的山路最考验一双鞋。极光越野跑鞋采用AuroraGrip大底，在湿滑岩石上抓地力提升30%，"
        "4毫米鞋钉能迅速排出泥土，不让泥巴越积越多。前掌内置防石板，踩上尖锐碎石也不硌脚；"
        "透气网面让长距离爬升时双脚保持干爽。整双鞋仅重210克，6毫米落差兼顾上坡的轻快与下坡的稳定，"
        "专为周末奔跑在山间小径上的越野跑者打造，让技术路段也能跑得踏实安心。",
        "清晨的山林湿气很重，石头和树根都容易打滑。极光越野跑鞋用抓地稳的大底和防石板，"
        "配合28毫米的鞋底厚度，让每一步都落得稳当。网面透气，鞋钉咬地，整鞋只有210克，"
        "比我们上一代越野鞋轻25克，爬到第三个坡时你会感受到差别。系好鞋带出发吧，"
        "让山路决定你的节奏，让极光陪你把周末跑得更远、更高、更尽兴。",
        "越野跑者都体会过脚下在湿石上一滑的瞬间。极光越野跑鞋经实验室测试，湿滑岩石上抓地力提升30%，"
        "6毫米落差让步伐保持自然。防石板抵挡尖锐石块，鞋钉每一步都能清理泥土。轻至210克、"
        "透气舒适，适合早早出发、一路跑上山顶的周末，让复杂的技术路段也变得简单从容。",
    ),
}


@dataclass
class StubClient:
    """A model client that is never called: make_plan only routes to it."""

    alias: str = "stub"
    provider: str = "stub"

    async def complete(self, messages: Sequence[Message], options: GenerationOptions) -> Completion:
        raise NotImplementedError

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncIterator[StreamEvent]:
        raise NotImplementedError
        yield  # an async generator, as the protocol's stream is

    def describe(self) -> dict[str, Any]:
        return {"provider": self.provider}

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class Ids:
    """The stored knowledge."""

    brand_id: str
    product_id: str
    audience_id: str


async def seed(database: Database) -> Ids:
    """One brand kit, one product of it and one audience, committed."""
    async with database.write_sessions() as session:
        brand = await create_brand(session, DEFAULT_WORKSPACE, brand_kit())
        row = await create_product(session, DEFAULT_WORKSPACE, product(brand.brand.id))
        reader = await create_audience(session, DEFAULT_WORKSPACE, audience())
        await session.flush()
        ids = Ids(brand.brand.id, row.id, reader.id)
        await session.commit()
    return ids


Sample = tuple[float, float]  # CPU s, wall s


class Bench:
    """Everything one round needs."""

    def __init__(self, database: Database, ids: Ids) -> None:
        self.database = database
        self.ids = ids
        self.settings = Settings()
        self.registry = ModelRegistry.from_clients({"stub": StubClient()}, "stub")
        self.prompts = PromptLibrary(PROMPTS_DIR)
        self.knowledge = Knowledge()

    # --- the parts, each as without/with ---------------------------------------------------

    async def load(self, named: bool) -> Knowledge:
        """As app/generation/service.py's _knowledge: no read when the brief names nothing."""
        if not named:
            return Knowledge()
        async with self.database.read_sessions() as session:
            return await load_knowledge(
                session,
                DEFAULT_WORKSPACE,
                brand_id=None,  # the product's own brand
                product_id=self.ids.product_id,
                audience_id=self.ids.audience_id,
            )

    def order(self, kind: str, language: str, named: bool) -> Order:
        fields: dict[str, Any] = {"language": language, "n": 3}
        if named:
            fields.update(product_id=self.ids.product_id, audience_id=self.ids.audience_id)
        else:
            fields.update(PLAIN_BRIEFS[kind, language])
        content_kind = KINDS[kind]
        return Order(content_kind, content_kind.brief_model.model_validate(fields))

    def plan(self, order: Order, knowledge: Knowledge | None) -> Plan:
        return make_plan(
            order,
            registry=self.registry,
            prompts=self.prompts,
            settings=self.settings,
            knowledge=knowledge,
        )

    @staticmethod
    def checks(plan: Plan, raws: Sequence[str], policy: Policy) -> None:
        for raw in raws:
            build_variant(plan.kind, plan.brief, raw, policy)


async def timed_async(work: Callable[[], Awaitable[object]]) -> Sample:
    cpu, wall = time.process_time(), time.perf_counter()
    await work()
    return time.process_time() - cpu, time.perf_counter() - wall


def timed(work: Callable[[], object]) -> Sample:
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


Samples = dict[str, dict[str, list[Sample]]]  # part or case -> without/with -> samples


async def run_rounds(bench: Bench, rounds: int) -> tuple[list[Sample], list[Sample], Samples]:
    """Every part, without and with, `rounds` times; returns (load without, load with,
    samples of plan and checks per case)."""
    knowledge = await bench.load(True)
    cases = [(k, lang) for k in KIND_NAMES for lang in LANGUAGES]
    orders = {
        case: (bench.order(*case, named=False), bench.order(*case, named=True)) for case in cases
    }
    plans = {
        case: (bench.plan(p, None), bench.plan(w, knowledge)) for case, (p, w) in orders.items()
    }
    load: dict[bool, list[Sample]] = {False: [], True: []}
    out: Samples = {
        f"{part}:{k}:{lang}": {"without": [], "with": []}
        for part in ("plan", "checks")
        for k, lang in cases
    }
    no_policy = Policy()
    for index in range(rounds):
        sides = (False, True) if index % 2 == 0 else (True, False)
        for named in sides:
            load[named].append(await timed_async(functools.partial(bench.load, named)))
        for case in cases:
            kind, lang = case
            for named in sides:
                order = orders[case][named]
                given = knowledge if named else None
                sample = timed(functools.partial(bench.plan, order, given))
                out[f"plan:{kind}:{lang}"]["with" if named else "without"].append(sample)
            plan = plans[case][1]
            raws = VARIANTS[case]
            for named in sides:
                policy = plan.policy if named else no_policy
                sample = timed(functools.partial(bench.checks, plan, raws, policy))
                out[f"checks:{kind}:{lang}"]["with" if named else "without"].append(sample)
    return load[False], load[True], out


def quantile_ms(values: list[float], q: float) -> float:
    """Nearest-rank percentile of seconds, in milliseconds."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank] * 1000, 4)


def stats_ms(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values) * 1000, 4),
        "p95": quantile_ms(values, 95),
    }


def summarise(load_without: list[Sample], load_with: list[Sample], samples: Samples) -> Any:
    """Per kind and language: each part's without, with and added ms, and the total added
    per generation (the same round's parts summed), CPU and wall."""
    cases: dict[str, Any] = {}
    for kind in KIND_NAMES:
        for lang in LANGUAGES:
            parts: dict[str, list[tuple[Sample, Sample]]] = {
                "load": list(zip(load_without, load_with, strict=True)),
                "plan": list(
                    zip(
                        *(samples[f"plan:{kind}:{lang}"][s] for s in ("without", "with")),
                        strict=True,
                    )
                ),
                "checks": list(
                    zip(
                        *(samples[f"checks:{kind}:{lang}"][s] for s in ("without", "with")),
                        strict=True,
                    )
                ),
            }
            case: dict[str, Any] = {}
            for clock, at in (("cpu", 0), ("wall", 1)):
                per_part: dict[str, Any] = {}
                added_total = [0.0] * len(load_with)
                added_no_read = [0.0] * len(load_with)
                for part, pairs in parts.items():
                    added = [w[at] - o[at] for o, w in pairs]
                    added_total = [t + a for t, a in zip(added_total, added, strict=True)]
                    if part != "load":
                        added_no_read = [t + a for t, a in zip(added_no_read, added, strict=True)]
                    per_part[part] = {
                        "without": stats_ms([o[at] for o, _ in pairs]),
                        "with": stats_ms([w[at] for _, w in pairs]),
                        "added": stats_ms(added),
                    }
                per_part["total_added"] = stats_ms(added_total)
                per_part["plan_checks_added"] = stats_ms(added_no_read)
                case[clock] = per_part
            cases[f"{kind}:{lang}"] = case
    return cases


def print_table(report: dict[str, Any]) -> None:
    """CPU ms added per generation, then the same in wall ms."""
    for clock in ("cpu", "wall"):
        print(f"\n{clock.upper()} ms added per generation (n=3), median / p95")
        head = f"{'kind':<20} {'lang':<4}"
        print(head + "".join(f" {p:>17}" for p in (*PARTS, "total", "plan+checks")))
        for name, case in report["cases"].items():
            kind, lang = name.split(":")
            cells = [case[clock][p]["added"] for p in PARTS]
            cells += [case[clock]["total_added"], case[clock]["plan_checks_added"]]
            row = "".join(f" {c['median']:>8.3f}/{c['p95']:<8.3f}" for c in cells)
            print(f"{kind:<20} {lang:<4}{row}")
    print("\nCPU ms with the knowledge (median): load, plan, checks")
    for name, case in report["cases"].items():
        cpu = case["cpu"]
        print(f"  {name:<24} " + "  ".join(f"{cpu[p]['with']['median']:.3f}" for p in PARTS))
    verdict = report["target"]
    mark = "met" if verdict["met"] else "MISSED"
    print(
        f"\ntarget: total CPU ms added < {verdict['cpu_ms']} (median, worst case): "
        f"{verdict['measured_worst_median']} {mark}"
    )
    print(f"machine: {report['machine']}")


async def profile(bench: Bench, rounds: int) -> None:
    """The hottest functions of each part's "with" side, main thread only."""
    knowledge = await bench.load(True)
    order = bench.order("product_description", "en", named=True)
    plan = bench.plan(order, knowledge)
    raws = VARIANTS["product_description", "en"]

    async def load_many() -> None:
        for _ in range(rounds):
            await bench.load(True)

    def plan_many() -> None:
        for _ in range(rounds):
            bench.plan(order, knowledge)

    def checks_many() -> None:
        for _ in range(rounds):
            bench.checks(plan, raws, plan.policy)

    for name, work in (("load", None), ("plan", plan_many), ("checks", checks_many)):
        profiler = cProfile.Profile()
        profiler.enable()
        if work is None:
            await load_many()
        else:
            work()
        profiler.disable()
        print(f"\n--- cProfile of {name} (with), {rounds} rounds, by own time ---")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
        print("--- by cumulative time ---")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(18)


async def measure(url: str, rounds: int, warmup: int, with_profile: bool) -> Any:
    database = Database(Settings(database_url=url))
    try:
        bench = Bench(database, await seed(database))
        await run_rounds(bench, warmup)
        load_without, load_with, samples = await run_rounds(bench, rounds)
        if with_profile:
            await profile(bench, min(rounds, 1000))
        return summarise(load_without, load_with, samples)
    finally:
        await database.dispose()


def main(argv: list[str] | None = None) -> None:
    """Run the rounds, print the table and write bench/results/knowledge.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--profile", action="store_true", help="also print cProfile tables")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "knowledge.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'knowledge.db'}"
        upgrade(url)
        cases = uvloop.run(measure(url, args.rounds, args.warmup, args.profile))
    worst = max(case["cpu"]["total_added"]["median"] for case in cases.values())
    report = {
        "rounds": args.rounds,
        "machine": machine(),
        "cases": cases,
        "target": {
            "cpu_ms": TARGET_CPU_MS,
            "measured_worst_median": worst,
            "met": worst < TARGET_CPU_MS,
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print_table(report)


if __name__ == "__main__":
    main()

"""Valid briefs per kind and language, shared by API tests."""

from typing import Any

from app.kinds import KINDS

# Every registered kind: a new kind is in every shared API test once it has briefs below.
PATHS = {kind.name: kind.path for kind in KINDS.values()}

BRIEFS: dict[str, dict[str, dict[str, Any]]] = {
    "ad_slogan": {
        "en": {"product": "Aurora trail shoes", "key_message": "grip on wet rock", "max_chars": 60},
        "zh": {"product": "极光越野跑鞋", "key_message": "湿滑岩面抓地稳", "max_chars": 20},
    },
    "product_description": {
        "en": {
            "product_name": "Kettle One",
            "features": ["boils a litre in three minutes", "keeps water warm"],
            "specs": {"capacity": "1.7 L"},
            "target_customer": "tea drinkers in small flats",
            "min_words": 40,
            "max_words": 120,
        },
        "zh": {
            "product_name": "一号水壶",
            "features": ["三分钟烧开一升水", "保温两小时"],
            "specs": {"容量": "1.7 升"},
            "target_customer": "住小户型的爱茶人",
            "min_words": 40,
            "max_words": 200,
        },
    },
    "blog_post": {
        "en": {
            "topic": "How to choose a trail running shoe",
            "outline": ["grip", "weight"],
            "keywords": ["trail running shoes"],
            "min_words": 200,
            "max_words": 600,
        },
        "zh": {
            "topic": "如何挑选越野跑鞋",
            "outline": ["抓地力", "重量"],
            "keywords": ["越野跑鞋"],
            "min_words": 200,
            "max_words": 600,
        },
    },
    "social_post": {
        "en": {"platform": "linkedin", "product": "Aurora trail shoes", "goal": "launch"},
        "zh": {"platform": "xiaohongshu", "product": "极光越野跑鞋", "goal": "launch"},
    },
    "email": {
        "en": {"purpose": "launch", "product": "Aurora trail shoes", "min_words": 40},
        "zh": {"purpose": "launch", "product": "极光越野跑鞋", "min_words": 40},
    },
    "ad_set": {
        "en": {"format": "google_rsa", "product": "Aurora trail shoes", "headlines": 4},
        "zh": {"format": "google_rsa", "product": "极光越野跑鞋", "headlines": 4},
    },
}


def brief(kind: str, lang: str = "en", **overrides: Any) -> dict[str, Any]:
    """A valid request body for a kind in a language, with overrides."""
    return {**BRIEFS[kind][lang], "language": lang, **overrides}

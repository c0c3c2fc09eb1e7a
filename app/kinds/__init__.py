"""The kinds of copy, one module each; `KINDS` is the one list routes and the CLI come from.

Adding a kind: a module here with its brief, checks and `ContentKind`, its templates under
`prompts/<name>/`, and one line below.
"""

from typing import Any

from app.kinds.ad_set import AD_SET
from app.kinds.ad_slogan import AD_SLOGAN
from app.kinds.base import ContentKind
from app.kinds.blog_post import BLOG_POST
from app.kinds.email import EMAIL
from app.kinds.product_description import PRODUCT_DESCRIPTION
from app.kinds.social_post import SOCIAL_POST

KINDS: dict[str, ContentKind[Any]] = {
    kind.name: kind
    for kind in (AD_SLOGAN, PRODUCT_DESCRIPTION, BLOG_POST, SOCIAL_POST, EMAIL, AD_SET)
}

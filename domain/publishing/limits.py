"""What each platform accepts in one post, checked when the post is created: a post the platform would refuse fails
then, naming the rule it breaks, instead of hours later when a delivery runs. Pure functions, no I/O.

Text is counted the way each platform counts it, because "characters" means something different everywhere:

- X: twitter-text v3 weighted length, after NFC. Code points in 0-4351, 8192-8205, 8208-8223 and 8242-8247 (Latin,
  Greek, Cyrillic, Hebrew, Arabic, ... and common punctuation) weigh 1, everything else (CJK, Hangul, most symbols)
  weighs 2; an emoji, however many code points its sequence has, weighs 2; every URL weighs 23 because X rewrites it
  to a t.co link of that length.
- Bluesky: grapheme clusters after NFC (the lexicon's maxGraphemes 300), and at most 3,000 UTF-8 bytes (its
  maxLength), which 300 long emoji sequences can exceed.
- Mastodon: grapheme clusters, with every http(s) URL counted as 23 and a remote mention `@user@domain` as `@user`
  (the server's StatusLengthValidator does the same). The limit is per instance: pass `max_chars`.
- Threads: characters, except that an emoji counts as its UTF-8 byte length (Threads' documented rule).
- LinkedIn, Facebook, Instagram, TikTok: UTF-16 code units. Their backends count that way (TikTok documents "UTF-16
  runes"); counting code points instead would accept posts with many emoji that the platform then refuses.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import regex

from domain.errors import InvalidInput
from domain.identity.platforms import Platform
from domain.publishing.publisher import MediaItem

Rule = Literal[
    "empty_post",
    "text_too_long",
    "too_many_hashtags",
    "media_required",
    "unsupported_media",
    "mixed_media",
    "too_many_images",
    "too_many_videos",
    "too_many_gifs",
    "too_many_media",
]
RULES: tuple[Rule, ...] = get_args(Rule)


@dataclass(frozen=True)
class Violation:
    """One rule a post breaks on one platform. `rule` is a stable code for programs; `message` is for people and
    names the platform, the limit and the actual value."""

    platform: Platform
    rule: Rule
    message: str


# ---------------------------------------------------------------------------------------------------------------
# Counting


_GRAPHEME = regex.compile(r"\X")


def grapheme_count(text: str) -> int:
    """Extended grapheme clusters (Unicode UAX #29): what a reader takes for one character, so a ZWJ family, a flag,
    a letter with combining accents or a CRLF each count 1. No normalization here: callers that need NFC apply it."""
    return sum(1 for _ in _GRAPHEME.finditer(text))


# A cluster is an emoji when it is a flag (two regional indicators), a keycap, or carries a sign of emoji
# presentation: a code point that defaults to it, a skin-tone modifier, an explicit VS16 (U+FE0F), or a ZWJ joining
# pictographs. A lone text-default symbol such as "©" or a digit is *not* an emoji: twitter-text weighs it by code
# point, and "©" (U+00A9) then weighs 1.
_FLAG_OR_KEYCAP = regex.compile(r"\p{RI}\p{RI}|[0-9#*]\uFE0F?\u20E3")
_EMOJI_SIGN = regex.compile(
    r"\p{Emoji_Presentation}|\p{Emoji_Modifier}|(?![0-9#*])\p{Emoji}\uFE0F"
    r"|\p{Extended_Pictographic}\u200D|\u200D\p{Extended_Pictographic}"
)


def _is_emoji(cluster: str) -> bool:
    return bool(_FLAG_OR_KEYCAP.fullmatch(cluster) or _EMOJI_SIGN.search(cluster))


# twitter-text v3 ("ranges" of its config, scaled from weight 100 to 1; the default weight 200 becomes 2).
_X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_X_URL_WEIGHT = 23
_MASTODON_URL_WEIGHT = 23


def _x_code_point_weight(char: str) -> int:
    code = ord(char)
    return 1 if any(low <= code <= high for low, high in _X_LIGHT_RANGES) else 2


def _x_plain_weight(text: str) -> int:
    total = 0
    for match in _GRAPHEME.finditer(text):
        cluster = match.group()
        total += 2 if _is_emoji(cluster) else sum(_x_code_point_weight(char) for char in cluster)
    return total


def weighted_length_x(text: str) -> int:
    """The length X counts against its 280 limit (twitter-text v3): see the module docstring for the weights."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for start, end in _url_spans(text, bare_domains=True):
        total += _x_plain_weight(text[position:start]) + _X_URL_WEIGHT
        position = end
    return total + _x_plain_weight(text[position:])


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _utf8_length(text: str) -> int:
    return len(text.encode("utf-8"))


def _bluesky_graphemes(text: str) -> int:
    return grapheme_count(unicodedata.normalize("NFC", text))


def _bluesky_bytes(text: str) -> int:
    return _utf8_length(unicodedata.normalize("NFC", text))


def _threads_length(text: str) -> int:
    total = 0
    for match in _GRAPHEME.finditer(text):
        cluster = match.group()
        total += _utf8_length(cluster) if _is_emoji(cluster) else len(cluster)
    return total


# Mastodon counts `@alice@example.social` as `@alice` so that mentioning someone on a long domain costs no more
# than mentioning a local user. Same shape as Mastodon's own mention pattern, including where a mention may start.
_MASTODON_MENTION = regex.compile(r"(?<![=/\w@])@(?P<user>[\w]+(?:[\w.-]*\w)?)(?:@[\w.-]*\w)?")


def _mastodon_length(text: str) -> int:
    entities = [(start, end, "x" * _MASTODON_URL_WEIGHT) for start, end in _url_spans(text, bare_domains=False)]
    entities += [(m.start(), m.end(), "@" + m.group("user")) for m in _MASTODON_MENTION.finditer(text)]
    # Where a URL and a mention overlap (a URL with "@" in its path) the one that starts first wins, as in Mastodon.
    entities.sort()
    parts: list[str] = []
    position = 0
    for start, end, replacement in entities:
        if start < position:
            continue
        parts += [text[position:start], replacement]
        position = end
    parts.append(text[position:])
    return grapheme_count("".join(parts))


# ---------------------------------------------------------------------------------------------------------------
# URLs, as X and Mastodon recognise them (both follow twitter-text's rules)

# Common generic TLDs a bare domain may end in ("example.com" without http://). X knows every delegated TLD; this
# list keeps to the ones people write in posts, so a bare domain on an unlisted new gTLD is counted at its literal
# length. Two-letter TLDs are all taken as country codes.
_GENERIC_TLD_WORDS = """
    academy aero agency app art asia bank bar bike bio biz blog blue boutique build business buzz cafe camp capital
    care careers cash cat center chat city click clinic cloud club codes coffee college com community company
    consulting cool coop dance data dating deals design dev diet digital directory download earth eco edu education
    email energy engineering estate events exchange expert express farm fashion film finance fish fit fitness
    flights florist food football forum foundation free fun fund gallery game games garden gay gift gifts glass global
    gold golf gov graphics green group guide guru health help holdings homes host hosting house how icu inc info ink
    institute int international jobs kitchen land law lawyer legal life link live loan love ltd luxury management
    market marketing media menu mil mobi moe money movie museum music name net network news ninja one online ooo org
    page partners party photo photography photos pics pink pizza place plus press pro productions properties
    property pub radio realty recipes red rest review reviews rocks run sale school science services sex sexy shop
    shopping show site ski social software solar solutions space store stream studio style support surf systems tax
    team tech technology tel today tools top tours town toys trade training travel tube university uno vip video
    vision vote wang watch website wiki win wine work works world wtf xxx xyz yoga zone
"""
_GENERIC_TLDS = frozenset(_GENERIC_TLD_WORDS.split())
# "vine.co" or "abc.tv" with no path is a link on X; other "name.cc" forms without a path are not ("readme.md").
_SHORT_DOMAIN_CCTLDS = frozenset({"co", "tv"})

# A candidate URL: optional scheme, a dotted host, an optional port, then path and query; it may not start inside a
# word, an e-mail address, a $cashtag or a #hashtag (the \uFF.. are the full-width @, $ and #). The host is taken
# whole and possessively, and whether it ends in a TLD is checked afterwards: a pattern that backtracked through the
# labels would cost quadratic time on text like "a.a.a.a...".
_URL = regex.compile(
    r"(?<![\p{L}\p{N}\p{M}@\uFF20$\uFF04#\uFF03])"
    r"(?P<scheme>https?://)?"
    r"(?P<host>[\p{L}\p{N}][\p{L}\p{N}\p{M}_-]*+(?:\.[\p{L}\p{N}][\p{L}\p{N}\p{M}_-]*+)++)"
    r"(?P<port>:[0-9]{1,5}+)?"
    r"(?P<rest>[/?][\p{L}\p{N}\p{M}\-._~:/?#\[\]@!$&'()*+,;=%|]*+)?",
    regex.IGNORECASE,
)
_TLD = regex.compile(r"xn--[a-z0-9-]+|\p{L}[\p{L}\p{M}]+", regex.IGNORECASE)
# A path or query ends on one of these; trailing ".", ",", "!", "?", quotes and unmatched ")" are the sentence's.
_URL_END = regex.compile(r"[\p{L}\p{N}\p{M}=_#/+&\-]")


def _trim_url_end(url: str) -> str:
    end = len(url)
    opened, closed = url.count("("), url.count(")")
    while end:
        last = url[end - 1]
        if _URL_END.fullmatch(last) or (last == ")" and opened >= closed):
            break
        opened -= last == "("
        closed -= last == ")"
        end -= 1
    return url[:end]


def _url_spans(text: str, *, bare_domains: bool) -> list[tuple[int, int]]:
    """(start, end) of each URL in `text`; with `bare_domains`, also "example.com/x" without a scheme (X links
    those, Mastodon does not)."""
    if "." not in text:
        return []
    spans: list[tuple[int, int]] = []
    for match in _URL.finditer(text):
        tld = match.group("host").rsplit(".", 1)[1]
        # "a.b@example.com" is an address, not a link to a.b.
        if not _TLD.fullmatch(tld) or text[match.end("host") : match.end("host") + 1] in ("@", "\uff20"):
            continue
        if match.group("scheme") is None and not (bare_domains and _is_bare_link(text, match, tld.lower())):
            continue
        rest = match.group("rest") or ""
        trimmed = _trim_url_end(rest)
        spans.append((match.start(), match.end() - (len(rest) - len(trimmed))))
    return spans


def _is_bare_link(text: str, match: regex.Match[str], tld: str) -> bool:
    host: str = match.group("host")
    if not host.isascii() or (match.start() > 0 and text[match.start() - 1] in "-_./"):
        return False
    if len(tld) == 2:
        # A path makes "name.cc" a link; without one only longer hosts and the short-link country codes are.
        has_path = bool(_trim_url_end(match.group("rest") or ""))
        return has_path or host.count(".") > 1 or tld in _SHORT_DOMAIN_CCTLDS
    return tld in _GENERIC_TLDS


# ---------------------------------------------------------------------------------------------------------------
# Hashtags

# "#tag" not glued to a word ("a#b") nor part of an HTML entity ("&#39;"); the full-width sign (U+FF03) counts too.
# The tag must start with a letter, digit or "_" so that the keycap emoji "#" + U+FE0F + U+20E3 is not one.
_HASHTAG = regex.compile(r"(?<![\p{L}\p{N}\p{M}_&#\uFF03])[#\uFF03][\p{L}\p{N}_][\p{L}\p{N}\p{M}_]*+")


def hashtag_count(text: str) -> int:
    """Hashtags in `text`, repeats included: Instagram does not document deduplicating them, so count strictly."""
    return sum(1 for _ in _HASHTAG.finditer(text))


# ---------------------------------------------------------------------------------------------------------------
# Per-platform rules


@dataclass(frozen=True)
class _TextRule:
    limit: int
    unit: str
    count: Callable[[str], int]


_Kind = Literal["image", "video", "gif"]


@dataclass(frozen=True)
class _MediaRule:
    """None means "not limited by this check". `gif` says what the platform makes of a GIF file: its own kind (X),
    a video (Mastodon and Bluesky convert GIFs to video, so one cannot sit beside images), an image, or nothing it
    accepts (None)."""

    required: bool = False
    required_what: str = "at least 1 image or video"
    max_items: int | None = None
    max_images: int | None = None
    max_videos: int | None = None
    max_gifs: int | None = None
    mixed: bool = True
    gif: _Kind | None = "image"


@dataclass(frozen=True)
class _PlatformRules:
    text: tuple[_TextRule, ...]  # the first is the main limit, the one `max_chars` replaces
    media: _MediaRule
    max_hashtags: int | None = None


_CHARS = "characters"
_RULES: dict[Platform, _PlatformRules] = {
    Platform.X: _PlatformRules(
        text=(_TextRule(280, "weighted characters", weighted_length_x),),
        media=_MediaRule(max_images=4, max_videos=1, max_gifs=1, mixed=False, gif="gif"),
    ),
    # LinkedIn and Facebook take a wide range of attachments; none of their media limits are checked here.
    Platform.LINKEDIN: _PlatformRules(text=(_TextRule(3_000, _CHARS, _utf16_length),), media=_MediaRule()),
    Platform.FACEBOOK: _PlatformRules(text=(_TextRule(63_206, _CHARS, _utf16_length),), media=_MediaRule()),
    # Instagram takes JPEG images and videos, mixed in a carousel of up to 10; no text-only posts, no GIFs.
    Platform.INSTAGRAM: _PlatformRules(
        text=(_TextRule(2_200, _CHARS, _utf16_length),),
        media=_MediaRule(required=True, max_items=10, gif=None),
        max_hashtags=30,
    ),
    # TikTok posts one video, or a photo post of up to 35 JPEG/WebP images; never both, never text only.
    Platform.TIKTOK: _PlatformRules(
        text=(_TextRule(2_200, _CHARS, _utf16_length),),
        media=_MediaRule(
            required=True,
            required_what="a video or at least 1 photo",
            max_images=35,
            max_videos=1,
            mixed=False,
            gif=None,
        ),
    ),
    # Threads carousels mix images and videos; GIFs only come from its GIF providers, not as uploaded files.
    Platform.THREADS: _PlatformRules(
        text=(_TextRule(500, "characters (an emoji counts its UTF-8 bytes)", _threads_length),),
        media=_MediaRule(max_items=20, gif=None),
    ),
    Platform.BLUESKY: _PlatformRules(
        text=(_TextRule(300, "graphemes", _bluesky_graphemes), _TextRule(3_000, "UTF-8 bytes", _bluesky_bytes)),
        media=_MediaRule(max_images=4, max_videos=1, mixed=False, gif="video"),
    ),
    Platform.MASTODON: _PlatformRules(
        text=(_TextRule(500, _CHARS, _mastodon_length),),
        media=_MediaRule(max_images=4, max_videos=1, mixed=False, gif="video"),
    ),
}


def text_length(platform: Platform, text: str) -> int:
    """`text`'s length in the unit the platform counts its main text limit in (for "N left" counters)."""
    return _RULES[platform].text[0].count(text)


def violations(
    platform: Platform, text: str, media: Sequence[MediaItem], *, max_chars: int | None = None
) -> list[Violation]:
    """Every rule the post (`text` plus `media`) breaks on `platform`, in a stable order; [] when it is valid there.
    `max_chars` replaces the platform's main text limit (a Mastodon instance's `max_characters`, a paid X tier)."""
    if max_chars is not None and max_chars < 1:
        raise InvalidInput(
            f"max_chars must be a positive number of characters, not {max_chars}.",
            field="max_chars",
            code="invalid_max_chars",
        )
    rules = _RULES[platform]
    name = platform.value
    found: list[Violation] = []

    def add(rule: Rule, message: str) -> None:
        found.append(Violation(platform, rule, f"{name}: {message}"))

    if not text.strip() and not media:
        add("empty_post", "a post needs text or media; it has neither")

    for index, text_rule in enumerate(rules.text):
        limit = max_chars if index == 0 and max_chars is not None else text_rule.limit
        length = text_rule.count(text)
        if length > limit:
            add("text_too_long", f"text is {length} {text_rule.unit}; the limit is {limit}")

    if rules.max_hashtags is not None:
        hashtags = hashtag_count(text)
        if hashtags > rules.max_hashtags:
            add("too_many_hashtags", f"text has {hashtags} hashtags; the limit is {rules.max_hashtags}")

    for rule, message in _media_violations(rules.media, media):
        add(rule, message)
    return found


def _media_violations(rule: _MediaRule, media: Sequence[MediaItem]) -> list[tuple[Rule, str]]:
    found: list[tuple[Rule, str]] = []
    if rule.required and not media:
        found.append(("media_required", f"a post needs {rule.required_what} (no text-only posts); it has none"))

    gifs_given = sum(1 for item in media if item.kind == "gif")
    if rule.gif is None and gifs_given:
        found.append(("unsupported_media", f"GIF files are not accepted; the post has {_plural(gifs_given, 'GIF')}"))

    # What the platform will see: GIFs become whatever it makes of them (and drop out when it takes none).
    kinds: list[_Kind] = []
    for item in media:
        if item.kind != "gif":
            kinds.append(item.kind)
        elif rule.gif is not None:
            kinds.append(rule.gif)
    images, videos, gifs = (kinds.count("image"), kinds.count("video"), kinds.count("gif"))

    if not rule.mixed and sum(1 for count in (images, videos, gifs) if count) > 1:
        mix = _mix(images, videos, gifs)
        found.append(("mixed_media", f"{_allowed(rule)} in one post, not a mix; the post has {mix}"))
    per_kind: tuple[tuple[Rule, int, int | None, str], ...] = (
        ("too_many_images", images, rule.max_images, "image"),
        ("too_many_videos", videos, rule.max_videos, "video"),
        ("too_many_gifs", gifs, rule.max_gifs, "GIF"),
    )
    for code, count, limit, noun in per_kind:
        if limit is not None and count > limit:
            found.append((code, f"the post has {_plural(count, noun)}; the limit is {limit}"))
    if rule.max_items is not None and len(media) > rule.max_items:
        found.append(("too_many_media", f"the post has {len(media)} media items; the limit is {rule.max_items}"))
    return found


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _mix(images: int, videos: int, gifs: int) -> str:
    parts = [_plural(n, noun) for n, noun in ((images, "image"), (videos, "video"), (gifs, "GIF")) if n]
    return " and ".join(parts)


def _allowed(rule: _MediaRule) -> str:
    limits = ((rule.max_images, "image"), (rule.max_gifs, "GIF"), (rule.max_videos, "video"))
    return "up to " + " or ".join(_plural(limit, noun) for limit, noun in limits if limit)

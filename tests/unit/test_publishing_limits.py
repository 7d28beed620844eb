"""Create-time content limits per platform: how each platform counts text (weighted, graphemes, UTF-16, bytes), the
edges of each limit (exactly at it, one over), hashtags, and which media each platform takes in one post."""

from __future__ import annotations

import dataclasses

import pytest

from domain.errors import InvalidInput
from domain.identity.platforms import Platform
from domain.publishing.limits import (
    RULES,
    Rule,
    Violation,
    grapheme_count,
    hashtag_count,
    text_length,
    violations,
    weighted_length_x,
)
from domain.publishing.publisher import MediaItem, MediaKind

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # man, woman, girl, boy joined by ZWJ
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"
THUMBS_UP_MEDIUM = "\U0001f44d\U0001f3fd"
FLAG_FR = "\U0001f1eb\U0001f1f7"
FLAG_ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
KEYCAP_ONE = "1\ufe0f\u20e3"
RED_HEART = "\u2764\ufe0f"
GRIN = "\U0001f600"
E_ACUTE_DECOMPOSED = "e\u0301"  # NFC turns it into U+00E9
IMAGE: MediaKind = "image"


def _media(*kinds: MediaKind) -> list[MediaItem]:
    return [MediaItem(url=f"https://cdn.example/{i}", kind=kind) for i, kind in enumerate(kinds)]


def _rules(found: list[Violation]) -> list[str]:
    return [violation.rule for violation in found]


# ---------------------------------------------------------------------------------------------------------------
# X weighted length


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", 0, id="empty"),
        pytest.param("hello", 5, id="ascii"),
        pytest.param("Ünïcödé", 7, id="latin-accents"),
        pytest.param("Привет", 6, id="cyrillic"),
        pytest.param("日本語", 6, id="cjk-weighs-2"),
        pytest.param("한국어", 6, id="hangul-weighs-2"),
        pytest.param("Hello 世界", 10, id="mixed-latin-cjk"),
        pytest.param(E_ACUTE_DECOMPOSED, 1, id="nfc-composes-combining-accent"),
        pytest.param("q\u0301", 2, id="combining-mark-without-precomposed-form"),
        pytest.param(GRIN, 2, id="emoji"),
        pytest.param(THUMBS_UP_MEDIUM, 2, id="emoji-with-skin-tone"),
        pytest.param(FAMILY, 2, id="zwj-family-sequence"),
        pytest.param(RAINBOW_FLAG, 2, id="zwj-with-vs16"),
        pytest.param(FLAG_FR, 2, id="flag"),
        pytest.param(FLAG_FR + "\U0001f1e9", 4, id="flag-plus-lone-regional-indicator"),
        pytest.param(FLAG_ENGLAND, 2, id="tag-sequence-flag"),
        pytest.param(KEYCAP_ONE, 2, id="keycap"),
        pytest.param(RED_HEART, 2, id="text-default-emoji-with-vs16"),
        pytest.param("\u00a9", 1, id="copyright-sign-alone-is-text"),
        pytest.param("\u00a9\ufe0f", 2, id="copyright-sign-with-vs16-is-emoji"),
        pytest.param("\u2122", 2, id="trade-mark-outside-light-ranges"),
        pytest.param("1", 1, id="digit-is-not-an-emoji"),
        pytest.param("Hello 世界 \U0001f30d", 13, id="text-cjk-and-emoji"),
        pytest.param(GRIN * 3, 6, id="three-emoji"),
        pytest.param("a\u200db", 3, id="zwj-between-letters-weighs-1"),
    ],
)
def test_weighted_length_x(text: str, expected: int) -> None:
    assert weighted_length_x(text) == expected


@pytest.mark.parametrize(
    ("code_point", "weight"),
    [
        (0, 1),
        (4351, 1),
        (4352, 2),
        (8191, 2),
        (8192, 1),
        (8205, 1),
        (8206, 2),
        (8207, 2),
        (8208, 1),
        (8223, 1),
        (8224, 2),
        (8241, 2),
        (8242, 1),
        (8247, 1),
        (8248, 2),
        (0x2026, 2),  # horizontal ellipsis, 8230
        (0x2013, 1),  # en dash, 8211
    ],
    ids=lambda value: str(value),
)
def test_x_weight_range_boundaries(code_point: int, weight: int) -> None:
    assert weighted_length_x(chr(code_point)) == weight


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("https://example.com", 23, id="https"),
        pytest.param("http://example.com/" + "a" * 100, 23, id="long-url-still-23"),
        pytest.param("https://example.com/path?q=1&r=2#frag", 23, id="path-query-fragment"),
        pytest.param("https://example.com:8080/x", 23, id="port"),
        pytest.param("EXAMPLE.COM", 23, id="bare-domain-upper-case"),
        pytest.param("see example.com", 27, id="bare-gtld-domain"),
        pytest.param("example.de", 10, id="bare-cctld-without-path-is-text"),
        pytest.param("example.de/x", 23, id="bare-cctld-with-path"),
        pytest.param("www.example.de", 23, id="bare-cctld-with-subdomain"),
        pytest.param("vine.co", 23, id="bare-co-short-domain"),
        pytest.param("example.unknowntld", 18, id="unknown-tld-is-text"),
        pytest.param("file.py", 7, id="file-name-is-text"),
        pytest.param("e.g. this", 9, id="abbreviation-is-text"),
        pytest.param("v1.2.3", 6, id="version-is-text"),
        pytest.param("foo@example.com", 15, id="email-is-text"),
        pytest.param("bob.smith@example.com", 21, id="dotted-email-is-text"),
        pytest.param("#example.com", 12, id="hashtag-prefix-is-text"),
        pytest.param("-example.com", 12, id="hyphen-prefix-is-text"),
        pytest.param("Visit example.com.", 30, id="trailing-period-not-in-url"),
        pytest.param("http://t.co/abc,", 24, id="trailing-comma-not-in-url"),
        pytest.param("(https://en.wikipedia.org/wiki/Foo_(bar))", 25, id="balanced-parens-kept"),
        pytest.param("https://example.com?", 24, id="trailing-question-mark"),
        pytest.param("https://\u4f8b\u3048.jp/", 23, id="idn-host-with-scheme"),
        pytest.param("https://xn--80ak6aa92e.xn--p1ai/path", 23, id="punycode"),
        pytest.param("a https://x.com b https://y.org", 51, id="two-urls"),
        pytest.param("x.com/abc" + GRIN, 25, id="emoji-ends-url"),
        pytest.param("http://localhost/x", 18, id="host-without-tld-is-text"),
    ],
)
def test_weighted_length_x_counts_urls_as_23(text: str, expected: int) -> None:
    assert weighted_length_x(text) == expected


# ---------------------------------------------------------------------------------------------------------------
# Graphemes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", 0, id="empty"),
        pytest.param("abc", 3, id="ascii"),
        pytest.param(E_ACUTE_DECOMPOSED, 1, id="combining-accent"),
        pytest.param("a\u0301\u0302\u0303", 1, id="stacked-combining-marks"),
        pytest.param(FAMILY, 1, id="zwj-family"),
        pytest.param(RAINBOW_FLAG, 1, id="rainbow-flag"),
        pytest.param(THUMBS_UP_MEDIUM, 1, id="skin-tone"),
        pytest.param(FLAG_FR + "\U0001f1e9\U0001f1ea", 2, id="two-flags"),
        pytest.param(FLAG_FR + "\U0001f1e9", 2, id="flag-plus-lone-indicator"),
        pytest.param(FLAG_ENGLAND, 1, id="tag-sequence"),
        pytest.param(KEYCAP_ONE, 1, id="keycap"),
        pytest.param("한국어", 3, id="hangul-syllables"),
        pytest.param("\u1100\u1161\u11a8", 1, id="conjoining-jamo"),
        pytest.param("日本語", 3, id="cjk"),
        pytest.param("\r\n", 1, id="crlf"),
        pytest.param("a\nb", 3, id="lf"),
    ],
)
def test_grapheme_count(text: str, expected: int) -> None:
    assert grapheme_count(text) == expected


# ---------------------------------------------------------------------------------------------------------------
# Text limits: at the limit passes, one over fails


@pytest.mark.parametrize(
    ("platform", "at_limit", "media"),
    [
        pytest.param(Platform.X, "a" * 280, [], id="x-ascii"),
        pytest.param(Platform.X, "日" * 140, [], id="x-cjk"),
        pytest.param(Platform.X, GRIN * 140, [], id="x-emoji"),
        pytest.param(Platform.X, FAMILY * 140, [], id="x-zwj-families"),
        pytest.param(Platform.X, "a" * 256 + " https://example.com/" + "p" * 200, [], id="x-with-url"),
        pytest.param(Platform.X, E_ACUTE_DECOMPOSED * 280, [], id="x-nfc"),
        pytest.param(Platform.LINKEDIN, "a" * 3_000, [], id="linkedin"),
        pytest.param(Platform.LINKEDIN, GRIN * 1_500, [], id="linkedin-emoji-utf16"),
        pytest.param(Platform.FACEBOOK, "a" * 63_206, [], id="facebook"),
        pytest.param(Platform.INSTAGRAM, "a" * 2_200, _media("image"), id="instagram"),
        pytest.param(Platform.TIKTOK, "a" * 2_200, _media("video"), id="tiktok"),
        pytest.param(Platform.THREADS, "a" * 500, [], id="threads"),
        pytest.param(Platform.THREADS, "日" * 500, [], id="threads-cjk"),
        pytest.param(Platform.THREADS, GRIN * 125, [], id="threads-emoji-bytes"),
        pytest.param(Platform.BLUESKY, "a" * 300, [], id="bluesky"),
        pytest.param(Platform.BLUESKY, FLAG_FR * 300, [], id="bluesky-flags"),
        pytest.param(Platform.BLUESKY, E_ACUTE_DECOMPOSED * 300, [], id="bluesky-combining"),
        pytest.param(Platform.BLUESKY, "a" * 299 + "q" + "\u0301" * 1_350, [], id="bluesky-3000-bytes"),
        pytest.param(Platform.MASTODON, "a" * 500, [], id="mastodon"),
        pytest.param(Platform.MASTODON, FAMILY * 500, [], id="mastodon-graphemes"),
        pytest.param(Platform.MASTODON, "a" * 476 + " https://example.com/" + "p" * 100, [], id="mastodon-url"),
        pytest.param(Platform.MASTODON, "@alice@mastodon.example.social " + "a" * 493, [], id="mastodon-mention"),
    ],
)
def test_text_exactly_at_the_limit_is_valid(platform: Platform, at_limit: str, media: list[MediaItem]) -> None:
    assert violations(platform, at_limit, media) == []


@pytest.mark.parametrize(
    ("platform", "over", "media", "message"),
    [
        pytest.param(Platform.X, "a" * 281, [], "x: text is 281 weighted characters; the limit is 280", id="x-ascii"),
        pytest.param(
            Platform.X, "日" * 140 + "a", [], "x: text is 281 weighted characters; the limit is 280", id="x-cjk"
        ),
        pytest.param(Platform.X, GRIN * 141, [], "x: text is 282 weighted characters; the limit is 280", id="x-emoji"),
        pytest.param(
            Platform.X,
            "a" * 257 + " https://example.com/",
            [],
            "x: text is 281 weighted characters; the limit is 280",
            id="x-with-url",
        ),
        pytest.param(Platform.X, "a" * 297, [], "x: text is 297 weighted characters; the limit is 280", id="x-297"),
        pytest.param(
            Platform.LINKEDIN,
            "a" * 3_001,
            [],
            "linkedin: text is 3001 characters; the limit is 3000",
            id="linkedin",
        ),
        pytest.param(
            Platform.LINKEDIN,
            GRIN * 1_501,
            [],
            "linkedin: text is 3002 characters; the limit is 3000",
            id="linkedin-emoji-utf16",
        ),
        pytest.param(
            Platform.FACEBOOK,
            "a" * 63_207,
            [],
            "facebook: text is 63207 characters; the limit is 63206",
            id="facebook",
        ),
        pytest.param(
            Platform.INSTAGRAM,
            "a" * 2_201,
            _media("image"),
            "instagram: text is 2201 characters; the limit is 2200",
            id="instagram",
        ),
        pytest.param(
            Platform.TIKTOK,
            "a" * 2_201,
            _media("video"),
            "tiktok: text is 2201 characters; the limit is 2200",
            id="tiktok",
        ),
        pytest.param(
            Platform.THREADS,
            "a" * 501,
            [],
            "threads: text is 501 characters (an emoji counts its UTF-8 bytes); the limit is 500",
            id="threads",
        ),
        pytest.param(
            Platform.THREADS,
            GRIN * 126,
            [],
            "threads: text is 504 characters (an emoji counts its UTF-8 bytes); the limit is 500",
            id="threads-emoji-bytes",
        ),
        pytest.param(Platform.BLUESKY, "a" * 301, [], "bluesky: text is 301 graphemes; the limit is 300", id="bluesky"),
        pytest.param(
            Platform.BLUESKY,
            FLAG_FR * 301,
            [],
            "bluesky: text is 301 graphemes; the limit is 300",
            id="bluesky-flags",
        ),
        pytest.param(
            Platform.BLUESKY,
            "a" * 299 + "q" + "\u0301" * 1_351,
            [],
            "bluesky: text is 3002 UTF-8 bytes; the limit is 3000",
            id="bluesky-bytes",
        ),
        pytest.param(
            Platform.MASTODON, "a" * 501, [], "mastodon: text is 501 characters; the limit is 500", id="mastodon"
        ),
        pytest.param(
            Platform.MASTODON,
            "a" * 477 + " https://example.com/",
            [],
            "mastodon: text is 501 characters; the limit is 500",
            id="mastodon-url",
        ),
        pytest.param(
            Platform.MASTODON,
            # A bare domain is not a link on Mastodon: counted letter by letter.
            "a" * 490 + " example.com",
            [],
            "mastodon: text is 502 characters; the limit is 500",
            id="mastodon-bare-domain",
        ),
    ],
)
def test_text_one_over_the_limit(platform: Platform, over: str, media: list[MediaItem], message: str) -> None:
    assert violations(platform, over, media) == [Violation(platform, "text_too_long", message)]


def test_bluesky_reports_both_grapheme_and_byte_limits() -> None:
    found = violations(Platform.BLUESKY, FAMILY * 301, [])
    assert [v.message for v in found] == [
        "bluesky: text is 301 graphemes; the limit is 300",
        "bluesky: text is 7525 UTF-8 bytes; the limit is 3000",
    ]


def test_bluesky_byte_limit_applies_within_300_graphemes() -> None:
    # 300 family emoji are 300 graphemes but 7,500 bytes: the lexicon's maxLength refuses them.
    assert _rules(violations(Platform.BLUESKY, FAMILY * 300, [])) == ["text_too_long"]


@pytest.mark.parametrize(
    ("platform", "text", "expected"),
    [
        pytest.param(Platform.X, "a https://example.com", 25, id="x"),
        pytest.param(Platform.LINKEDIN, GRIN + "a", 3, id="linkedin-utf16"),
        pytest.param(Platform.FACEBOOK, FAMILY, 11, id="facebook-utf16-family"),
        pytest.param(Platform.INSTAGRAM, "caf\u00e9", 4, id="instagram"),
        pytest.param(Platform.TIKTOK, "\U0001d400", 2, id="tiktok-astral-letter"),
        pytest.param(Platform.THREADS, FAMILY, 25, id="threads-family-bytes"),
        pytest.param(Platform.THREADS, "日本" + E_ACUTE_DECOMPOSED, 4, id="threads-code-points"),
        pytest.param(Platform.BLUESKY, FAMILY + E_ACUTE_DECOMPOSED, 2, id="bluesky-graphemes"),
        pytest.param(Platform.MASTODON, "@alice@mastodon.social hi", 9, id="mastodon-remote-mention"),
        pytest.param(Platform.MASTODON, "@bob hi", 7, id="mastodon-local-mention"),
        pytest.param(Platform.MASTODON, "bob@example.com", 15, id="mastodon-email"),
        pytest.param(Platform.MASTODON, "https://example.com/@alice@x.social", 23, id="mastodon-url-wins"),
        pytest.param(Platform.MASTODON, "see https://example.com/" + "p" * 80, 27, id="mastodon-url-23"),
    ],
)
def test_text_length_uses_each_platforms_unit(platform: Platform, text: str, expected: int) -> None:
    assert text_length(platform, text) == expected


# ---------------------------------------------------------------------------------------------------------------
# max_chars


def test_max_chars_overrides_the_mastodon_default() -> None:
    assert violations(Platform.MASTODON, "a" * 1_000, [], max_chars=1_000) == []
    assert violations(Platform.MASTODON, "a" * 1_001, [], max_chars=1_000) == [
        Violation(Platform.MASTODON, "text_too_long", "mastodon: text is 1001 characters; the limit is 1000")
    ]


def test_max_chars_can_lower_the_limit() -> None:
    assert _rules(violations(Platform.MASTODON, "a" * 201, [], max_chars=200)) == ["text_too_long"]


def test_max_chars_applies_to_other_platforms_too() -> None:
    # A paid X tier allows long posts; the weighted count still applies.
    assert violations(Platform.X, "a" * 25_000, [], max_chars=25_000) == []
    assert _rules(violations(Platform.X, "日" * 12_501, [], max_chars=25_000)) == ["text_too_long"]


def test_max_chars_does_not_lift_blueskys_byte_limit() -> None:
    assert [v.message for v in violations(Platform.BLUESKY, FAMILY * 200, [], max_chars=1_000)] == [
        "bluesky: text is 5000 UTF-8 bytes; the limit is 3000"
    ]


@pytest.mark.parametrize("max_chars", [0, -1])
def test_max_chars_must_be_positive(max_chars: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        violations(Platform.MASTODON, "hi", [], max_chars=max_chars)
    assert caught.value.field == "max_chars"
    assert caught.value.code == "invalid_max_chars"


# ---------------------------------------------------------------------------------------------------------------
# Empty posts


@pytest.mark.parametrize("platform", list(Platform))
@pytest.mark.parametrize("text", ["", "   ", "\n\t "], ids=["empty", "spaces", "whitespace"])
def test_an_empty_post_is_invalid_everywhere(platform: Platform, text: str) -> None:
    found = violations(platform, text, [])
    assert found[0] == Violation(
        platform, "empty_post", f"{platform.value}: a post needs text or media; it has neither"
    )


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        (Platform.X, ["empty_post"]),
        (Platform.LINKEDIN, ["empty_post"]),
        (Platform.FACEBOOK, ["empty_post"]),
        (Platform.INSTAGRAM, ["empty_post", "media_required"]),
        (Platform.TIKTOK, ["empty_post", "media_required"]),
        (Platform.THREADS, ["empty_post"]),
        (Platform.BLUESKY, ["empty_post"]),
        (Platform.MASTODON, ["empty_post"]),
    ],
)
def test_an_empty_post_also_reports_missing_media_where_media_is_required(
    platform: Platform, expected: list[str]
) -> None:
    assert _rules(violations(platform, "", [])) == expected


@pytest.mark.parametrize("platform", list(Platform))
def test_media_without_text_is_not_empty(platform: Platform) -> None:
    media = _media("video")
    assert violations(platform, "", media) == []


@pytest.mark.parametrize("platform", list(Platform))
def test_a_short_text_with_one_image_is_valid_everywhere(platform: Platform) -> None:
    assert violations(platform, "Hello 世界 " + FAMILY, _media("image")) == []


# ---------------------------------------------------------------------------------------------------------------
# Hashtags


def _tags(count: int) -> str:
    return " ".join(f"#tag{i}" for i in range(count))


def test_instagram_allows_30_hashtags() -> None:
    assert violations(Platform.INSTAGRAM, _tags(30), _media("image")) == []


def test_instagram_refuses_31_hashtags() -> None:
    assert violations(Platform.INSTAGRAM, _tags(31), _media("image")) == [
        Violation(Platform.INSTAGRAM, "too_many_hashtags", "instagram: text has 31 hashtags; the limit is 30")
    ]


@pytest.mark.parametrize("platform", [p for p in Platform if p is not Platform.INSTAGRAM])
def test_other_platforms_do_not_limit_hashtags(platform: Platform) -> None:
    assert violations(platform, _tags(31), _media("image")) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", 0, id="none"),
        pytest.param("#a #b #c", 3, id="three"),
        pytest.param("#a #a", 2, id="repeats-count"),
        pytest.param("#日本 #café #straße", 3, id="unicode-tags"),
        pytest.param("\uff03fullwidth", 1, id="full-width-sign"),
        pytest.param("a#b", 0, id="inside-a-word"),
        pytest.param("&#39; quote", 0, id="html-entity"),
        pytest.param("# alone", 0, id="bare-sign"),
        pytest.param("##double", 0, id="double-sign"),
        pytest.param("#1 fan", 1, id="numeric-counted-strictly"),
        pytest.param(KEYCAP_ONE + " #\ufe0f\u20e3", 0, id="keycaps-are-not-tags"),
        pytest.param("(#tag), #other.", 2, id="punctuation-around"),
    ],
)
def test_hashtag_count(text: str, expected: int) -> None:
    assert hashtag_count(text) == expected


# ---------------------------------------------------------------------------------------------------------------
# Media


@pytest.mark.parametrize(
    ("platform", "kinds"),
    [
        pytest.param(Platform.X, ("image",) * 4, id="x-4-images"),
        pytest.param(Platform.X, ("gif",), id="x-1-gif"),
        pytest.param(Platform.X, ("video",), id="x-1-video"),
        pytest.param(Platform.INSTAGRAM, ("image",), id="instagram-1-image"),
        pytest.param(Platform.INSTAGRAM, ("image",) * 10, id="instagram-carousel-10"),
        pytest.param(Platform.INSTAGRAM, ("image", "video") * 5, id="instagram-mixed-carousel"),
        pytest.param(Platform.TIKTOK, ("video",), id="tiktok-video"),
        pytest.param(Platform.TIKTOK, ("image",), id="tiktok-1-photo"),
        pytest.param(Platform.TIKTOK, ("image",) * 35, id="tiktok-35-photos"),
        pytest.param(Platform.THREADS, ("image", "video") * 10, id="threads-mixed-20"),
        pytest.param(Platform.BLUESKY, ("image",) * 4, id="bluesky-4-images"),
        pytest.param(Platform.BLUESKY, ("video",), id="bluesky-1-video"),
        pytest.param(Platform.BLUESKY, ("gif",), id="bluesky-1-gif"),
        pytest.param(Platform.MASTODON, ("image",) * 4, id="mastodon-4-images"),
        pytest.param(Platform.MASTODON, ("video",), id="mastodon-1-video"),
        pytest.param(Platform.MASTODON, ("gif",), id="mastodon-1-gif"),
        pytest.param(Platform.LINKEDIN, ("video",), id="linkedin-video"),
        pytest.param(Platform.FACEBOOK, ("image", "image"), id="facebook-2-images"),
        pytest.param(Platform.FACEBOOK, ("gif",), id="facebook-gif"),
    ],
)
def test_allowed_media(platform: Platform, kinds: tuple[MediaKind, ...]) -> None:
    assert violations(platform, "caption", _media(*kinds)) == []


@pytest.mark.parametrize(
    ("platform", "kinds", "rule", "message"),
    [
        pytest.param(
            Platform.X, ("image",) * 5, "too_many_images", "x: the post has 5 images; the limit is 4", id="x-5-images"
        ),
        pytest.param(
            Platform.X, ("gif",) * 2, "too_many_gifs", "x: the post has 2 GIFs; the limit is 1", id="x-2-gifs"
        ),
        pytest.param(
            Platform.X, ("video",) * 2, "too_many_videos", "x: the post has 2 videos; the limit is 1", id="x-2-videos"
        ),
        pytest.param(
            Platform.X,
            ("image", "video"),
            "mixed_media",
            "x: up to 4 images or 1 GIF or 1 video in one post, not a mix; the post has 1 image and 1 video",
            id="x-image-and-video",
        ),
        pytest.param(
            Platform.X,
            ("image", "image", "gif"),
            "mixed_media",
            "x: up to 4 images or 1 GIF or 1 video in one post, not a mix; the post has 2 images and 1 GIF",
            id="x-images-and-gif",
        ),
        pytest.param(
            Platform.INSTAGRAM,
            ("image",) * 11,
            "too_many_media",
            "instagram: the post has 11 media items; the limit is 10",
            id="instagram-11-items",
        ),
        pytest.param(
            Platform.INSTAGRAM,
            ("gif",),
            "unsupported_media",
            "instagram: GIF files are not accepted; the post has 1 GIF",
            id="instagram-gif",
        ),
        pytest.param(
            Platform.TIKTOK,
            ("image",) * 36,
            "too_many_images",
            "tiktok: the post has 36 images; the limit is 35",
            id="tiktok-36-photos",
        ),
        pytest.param(
            Platform.TIKTOK,
            ("video",) * 2,
            "too_many_videos",
            "tiktok: the post has 2 videos; the limit is 1",
            id="tiktok-2-videos",
        ),
        pytest.param(
            Platform.TIKTOK,
            ("video", "image"),
            "mixed_media",
            "tiktok: up to 35 images or 1 video in one post, not a mix; the post has 1 image and 1 video",
            id="tiktok-video-and-photo",
        ),
        pytest.param(
            Platform.TIKTOK,
            ("gif", "gif"),
            "unsupported_media",
            "tiktok: GIF files are not accepted; the post has 2 GIFs",
            id="tiktok-gifs",
        ),
        pytest.param(
            Platform.THREADS,
            ("image",) * 21,
            "too_many_media",
            "threads: the post has 21 media items; the limit is 20",
            id="threads-21-items",
        ),
        pytest.param(
            Platform.THREADS,
            ("gif",),
            "unsupported_media",
            "threads: GIF files are not accepted; the post has 1 GIF",
            id="threads-gif",
        ),
        pytest.param(
            Platform.BLUESKY,
            ("image",) * 5,
            "too_many_images",
            "bluesky: the post has 5 images; the limit is 4",
            id="bluesky-5-images",
        ),
        pytest.param(
            Platform.BLUESKY,
            ("video",) * 2,
            "too_many_videos",
            "bluesky: the post has 2 videos; the limit is 1",
            id="bluesky-2-videos",
        ),
        pytest.param(
            Platform.BLUESKY,
            ("image", "video"),
            "mixed_media",
            "bluesky: up to 4 images or 1 video in one post, not a mix; the post has 1 image and 1 video",
            id="bluesky-image-and-video",
        ),
        pytest.param(
            Platform.BLUESKY,
            ("gif", "gif"),
            "too_many_videos",
            "bluesky: the post has 2 videos; the limit is 1",
            id="bluesky-gifs-are-videos",
        ),
        pytest.param(
            Platform.MASTODON,
            ("image",) * 5,
            "too_many_images",
            "mastodon: the post has 5 images; the limit is 4",
            id="mastodon-5-images",
        ),
        pytest.param(
            Platform.MASTODON,
            ("video", "video"),
            "too_many_videos",
            "mastodon: the post has 2 videos; the limit is 1",
            id="mastodon-2-videos",
        ),
        pytest.param(
            Platform.MASTODON,
            ("image", "gif"),
            "mixed_media",
            "mastodon: up to 4 images or 1 video in one post, not a mix; the post has 1 image and 1 video",
            id="mastodon-gif-is-a-video",
        ),
    ],
)
def test_refused_media(platform: Platform, kinds: tuple[MediaKind, ...], rule: Rule, message: str) -> None:
    assert violations(platform, "caption", _media(*kinds)) == [Violation(platform, rule, message)]


@pytest.mark.parametrize(
    ("platform", "message"),
    [
        (
            Platform.INSTAGRAM,
            "instagram: a post needs at least 1 image or video (no text-only posts); it has none",
        ),
        (
            Platform.TIKTOK,
            "tiktok: a post needs a video or at least 1 photo (no text-only posts); it has none",
        ),
    ],
)
def test_media_required(platform: Platform, message: str) -> None:
    assert violations(platform, "just text", []) == [Violation(platform, "media_required", message)]


@pytest.mark.parametrize(
    "platform",
    [Platform.X, Platform.LINKEDIN, Platform.FACEBOOK, Platform.THREADS, Platform.BLUESKY, Platform.MASTODON],
)
def test_text_only_posts_are_fine_where_media_is_optional(platform: Platform) -> None:
    assert violations(platform, "just text", []) == []


def test_several_media_rules_are_reported_together() -> None:
    found = violations(Platform.X, "caption", _media(*[IMAGE] * 5, "video", "video"))
    assert _rules(found) == ["mixed_media", "too_many_images", "too_many_videos"]


def test_text_and_media_violations_come_in_a_stable_order() -> None:
    found = violations(Platform.INSTAGRAM, "a" * 2_201 + " " + _tags(31), _media("gif", *[IMAGE] * 10))
    assert _rules(found) == ["text_too_long", "too_many_hashtags", "unsupported_media", "too_many_media"]


# ---------------------------------------------------------------------------------------------------------------
# The Violation type and the rule codes


def test_violation_is_frozen() -> None:
    violation = violations(Platform.X, "a" * 281, [])[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        violation.rule = "empty_post"  # type: ignore[misc]


def test_rule_codes_are_stable_snake_case() -> None:
    assert RULES == (
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
    )


def test_platform_strings_are_accepted_through_the_enum() -> None:
    # Callers parse user input with Platform.parse; "twitter" is X.
    assert _rules(violations(Platform.parse("twitter"), "a" * 281, [])) == ["text_too_long"]


# ---------------------------------------------------------------------------------------------------------------
# Long and adversarial input stays fast (the URL pattern must not backtrack quadratically)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a." * 50_000, id="dotted-run"),
        pytest.param("a" * 100_000, id="one-long-word"),
        pytest.param("a.b@" * 25_000, id="address-like"),
        pytest.param("https://e.com/" + "(" * 70_000, id="unbalanced-parens"),
        pytest.param("@a." * 30_000, id="mention-like"),
    ],
)
def test_long_adversarial_text_is_counted(text: str) -> None:
    for platform in Platform:
        assert _rules(violations(platform, text, _media("image")))[0] == "text_too_long"

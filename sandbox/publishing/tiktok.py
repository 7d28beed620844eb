"""TikTok: the publishing side of the imitation (Content Posting API v2, Direct Post). Registered with sandbox.registry.

    POST /v2/post/publish/creator_info/query/   who is posting, which privacy levels they may pick
    POST /v2/post/publish/video/init/           FILE_UPLOAD → publish_id + upload_url; PULL_FROM_URL → publish_id
    PUT  /upload/video/?upload_id&upload_token  chunks with Content-Range (206 until the last one, then 201)
    POST /v2/post/publish/content/init/         photos, PULL_FROM_URL only
    POST /v2/post/publish/status/fetch/         PROCESSING_UPLOAD|PROCESSING_DOWNLOAD → PUBLISH_COMPLETE | FAILED
    POST /v2/video/query/                       counters of the user's videos (Display API)

A post exists once all its media is in (last chunk, or a photo/video URL the platform can pull); status/fetch
answers "processing" until PROCESSING_S later, so clients must poll. Calling init twice makes two posts, as on
TikTok. Pullable URLs are the sandbox's own sample files; any other URL fails with *_pull_failed.
TikTok documents no duplicate refusal: the injected `duplicate` fault answers the stand-in code `duplicate_post`."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response

from sandbox.platforms.base import Platform, PlatformError
from sandbox.platforms.tiktok import api_error
from sandbox.posts import find_post, next_id, peer_host, state_of
from sandbox.publishing.tiktok_jobs import (
    CAPTION_LIMIT,
    CONTENT_RANGE,
    MAX_PHOTOS,
    PHOTO_TITLE_LIMIT,
    PRIVACY_LEVELS,
    PublishJob,
    TikTokPublishing,
    caption_of,
    invalid,
    jobs,
    json_object,
    ok,
    privacy_of,
    pullable,
    read_json,
    upload_plan,
    video_fields,
)
from sandbox.registry import register_routes


@register_routes("tiktok")
def tiktok_publishing(platform: Platform) -> APIRouter:
    router = APIRouter()
    pub = TikTokPublishing(platform)

    @router.post("/v2/post/publish/creator_info/query/", name="creator_info")
    async def creator_info(request: Request) -> Response:
        await pub.token(request, ("video.publish",))
        user = platform.cfg(request).user
        return ok(
            {
                "creator_avatar_url": user.picture,
                "creator_username": user.handle,
                "creator_nickname": user.name,
                "privacy_level_options": list(PRIVACY_LEVELS),
                "comment_disabled": False,
                "duet_disabled": False,
                "stitch_disabled": False,
                "max_video_post_duration_sec": 600,
            }
        )

    @router.post("/v2/post/publish/video/init/", name="video_init")
    async def video_init(request: Request) -> Response:
        token = await pub.token(request, ("video.publish",))
        body = await read_json(request)
        post_info, source = json_object(body, "post_info"), json_object(body, "source_info")
        caption = caption_of(post_info.get("title"), CAPTION_LIMIT, "post_info.title")
        privacy = privacy_of(post_info)
        kind = source.get("source")
        if kind not in ("FILE_UPLOAD", "PULL_FROM_URL"):
            raise invalid("source_info.source must be FILE_UPLOAD or PULL_FROM_URL.")
        size = upload_plan(source) if kind == "FILE_UPLOAD" else 0
        pub.check_can_post(request, token.user_id)
        job = PublishJob(
            publish_id=f"v_pub_file~v2-1.{next_id()}",
            user_id=token.user_id,
            kind="video",
            caption=caption,
            privacy=privacy,
            peer_host=peer_host(request),
            video_size=size,
        )
        if kind == "PULL_FROM_URL":
            await pub.new_job(request, job)
            url = source.get("video_url")
            if pullable(url):
                await pub.complete(request, job, [str(url)])
            else:
                job.fail_reason = "video_pull_failed"
            return ok({"publish_id": job.publish_id})
        job.upload_token = secrets.token_urlsafe(16)
        await pub.new_job(request, job)
        base = str(request.base_url).rstrip("/")
        upload_url = f"{base}/{platform.name}/upload/video/?upload_id={job.publish_id}&upload_token={job.upload_token}"
        return ok({"publish_id": job.publish_id, "upload_url": upload_url})

    @router.put("/upload/video/", name="upload")
    async def upload(request: Request, upload_id: str = "", upload_token: str = "") -> Response:
        # The upload URL is its own credential (upload_token); TikTok's upload host takes no bearer token.
        job = jobs(state_of(request)).get(upload_id)
        if job is None or not job.upload_token or not secrets.compare_digest(job.upload_token, upload_token):
            raise PlatformError(api_error(404, "invalid_params", "The upload URL is invalid or has expired."))
        match = CONTENT_RANGE.match(request.headers.get("content-range", ""))
        content = await request.body()
        if match is None:
            raise PlatformError(api_error(416, "invalid_params", "Content-Range must be bytes {first}-{last}/{total}."))
        first, last, total = (int(g) for g in match.groups())
        if total != job.video_size or last < first or last >= total or last - first + 1 != len(content):
            raise PlatformError(api_error(416, "invalid_params", "Content-Range does not match the chunk or size."))
        if job.post_id is not None:
            return Response(status_code=201)  # a re-sent chunk of a finished upload changes nothing
        job.chunks[first] = len(content)
        if job.uploaded() < job.video_size:
            return Response(status_code=206)
        await pub.complete(request, job, [f"upload:{job.publish_id}"])
        return Response(status_code=201)

    @router.post("/v2/post/publish/content/init/", name="content_init")
    async def content_init(request: Request) -> Response:
        token = await pub.token(request, ("video.publish",))
        body = await read_json(request)
        post_info, source = json_object(body, "post_info"), json_object(body, "source_info")
        if body.get("media_type") != "PHOTO" or body.get("post_mode") not in ("DIRECT_POST", "MEDIA_UPLOAD"):
            raise invalid("media_type must be PHOTO and post_mode DIRECT_POST or MEDIA_UPLOAD.")
        if source.get("source") != "PULL_FROM_URL":
            raise invalid("Photos can only be posted with source PULL_FROM_URL.")
        images = source.get("photo_images")
        if not isinstance(images, list) or not 1 <= len(images) <= MAX_PHOTOS:
            raise invalid(f"source_info.photo_images must list 1-{MAX_PHOTOS} image URLs.")
        caption_of(post_info.get("title"), PHOTO_TITLE_LIMIT, "post_info.title")
        description = caption_of(post_info.get("description"), CAPTION_LIMIT, "post_info.description")
        privacy = privacy_of(post_info)
        pub.check_can_post(request, token.user_id)
        job = PublishJob(
            publish_id=f"p_pub_url~v2.{next_id()}",
            user_id=token.user_id,
            kind="photo",
            caption=description or str(post_info.get("title") or ""),
            privacy=privacy,
            peer_host=peer_host(request),
        )
        await pub.new_job(request, job)
        if all(pullable(u) for u in images):
            await pub.complete(request, job, [str(u) for u in images])
        else:
            job.fail_reason = "photo_pull_failed"
        return ok({"publish_id": job.publish_id})

    @router.post("/v2/post/publish/status/fetch/", name="status_fetch")
    async def status_fetch(request: Request) -> Response:
        token = await pub.token(request, ("video.publish", "video.upload"))
        body = await read_json(request)
        job = jobs(state_of(request)).get(str(body.get("publish_id") or ""))
        if job is None or job.user_id != token.user_id:
            raise invalid("publish_id does not exist or does not belong to this user.")
        return ok(pub.status(request, job))

    @router.post("/v2/video/query/", name="video_query")
    async def video_query(request: Request, fields: str = "") -> Response:
        token = await pub.token(request, ("video.publish", "video.list"))
        if not fields:
            raise invalid("fields is required.")
        body = await read_json(request)
        ids = json_object(body, "filters").get("video_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 20:
            raise invalid("filters.video_ids must list 1-20 video ids.")
        state = state_of(request)
        wanted = [f.strip() for f in fields.split(",") if f.strip()]
        videos = []
        for video_id in ids:
            post = find_post(state, platform.name, str(video_id))
            if post is None or post.user_id != token.user_id:
                continue
            videos.append({f: v for f, v in video_fields(post, state.now()).items() if f in wanted})
        return ok({"videos": videos, "cursor": 0, "has_more": False})

    return router

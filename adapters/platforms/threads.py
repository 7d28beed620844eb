"""Threads (graph.threads.net): the Instagram Login flow with th_exchange_token / th_refresh_token."""

from __future__ import annotations

from adapters.platforms.meta_login import MetaLoginConnector
from domain.identity.platforms import Platform


class ThreadsConnector(MetaLoginConnector):
    platform = Platform.THREADS
    exchange_grant = "th_exchange_token"
    refresh_grant = "th_refresh_token"
    profile_fields = "id,username,name,threads_profile_picture_url"
    picture_field = "threads_profile_picture_url"

"""The Temporal client shared by the API and the worker: pydantic data conversion plus payload encryption."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from adapters.crypto.fields import Keyring
from adapters.temporal.codec import EncryptionCodec
from settings import Settings


def data_converter(settings: Settings) -> DataConverter:
    codec = EncryptionCodec(Keyring.parse(settings.payload_codec_keys))
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)


async def connect(settings: Settings, *, lazy: bool = False, identity: str | None = None) -> Client:
    """Connect to the configured namespace. `lazy=True` returns at once and connects on first use, so a process can
    start (and report itself unready) while Temporal is still down."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        lazy=lazy,
        identity=identity,
    )

"""api.rendered: a domain object's response JSON is rendered once, and a new object is always rendered afresh."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ConfigDict

from api import rendered
from api.rendered import Rendered
from api.schemas import ApiModel


class Thing(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    secret: str


class ThingOut(ApiModel):
    display_name: str


def _out(thing: Thing) -> ThingOut:
    return ThingOut(display_name=thing.name.title())


def test_the_json_is_the_response_models_by_alias() -> None:
    response = Rendered(ThingOut, _out).response(Thing(name="acme coffee", secret="s3cret"))
    assert response.media_type == "application/json"
    assert json.loads(bytes(response.body)) == {"displayName": "Acme Coffee"}


def test_one_object_is_rendered_once_and_another_afresh() -> None:
    calls: list[Thing] = []

    def counted(thing: Thing) -> ThingOut:
        calls.append(thing)
        return _out(thing)

    json_of = Rendered(ThingOut, counted)
    first = Thing(name="one", secret="x")
    assert json_of.response(first).body == json_of.response(first).body
    assert calls == [first]
    equal_but_new = Thing(name="two", secret="x")
    assert json.loads(bytes(json_of.response(equal_but_new).body)) == {"displayName": "Two"}
    assert calls == [first, equal_but_new]


def test_the_objects_remembered_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rendered, "REMEMBERED", 2)
    calls: list[str] = []

    def counted(thing: Thing) -> ThingOut:
        calls.append(thing.name)
        return _out(thing)

    json_of = Rendered(ThingOut, counted)
    things = [Thing(name=f"t{i}", secret="x") for i in range(3)]
    for thing in things:
        json_of.response(thing)
    json_of.response(things[2])  # still remembered
    json_of.response(things[0])  # the first went when the third came
    assert calls == ["t0", "t1", "t2", "t0"]

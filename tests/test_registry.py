"""Backends by name: unknown names list the choices, missing extras name themselves."""
from __future__ import annotations

import pytest

from shoprank.config import Settings
from shoprank.registry import MissingExtraError, Registry, UnknownBackendError


def test_registry_creates_by_name_and_lists_choices():
    reg: Registry[str] = Registry("greeter")
    reg.register("hello", lambda name: f"hello {name}")
    reg.register("shout", lambda name: f"HELLO {name.upper()}")
    assert reg.create("shout", "ana") == "HELLO ANA" and reg.names() == ["hello", "shout"]
    with pytest.raises(UnknownBackendError, match="unknown greeter 'hi'; choose one of: hello, shout"):
        reg.create("hi", "ana")
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("hello", lambda name: name)


def test_lazy_backend_reports_its_missing_extra():
    reg: Registry[object] = Registry("widget")
    reg.register("fancy", "shoprank_no_such_module:Fancy", extra="fancy")
    assert "fancy" in reg  # registering imports nothing
    with pytest.raises(MissingExtraError, match=r"pip install 'shoprank\[fancy\]'"):
        reg.get("fancy")


@pytest.mark.parametrize("setting,value", [
    ("text_encoder", "clip"), ("image_encoder", "resnet"), ("fusion", "borda"), ("ranker", "bm42"),
    ("vector_backend", "annoy"), ("lexical_backend", "lucene"), ("profile_store", "mongo"),
    ("cf_model", "item_item"), ("speech_backend", "google"),
])
def test_settings_reject_unknown_backends_naming_the_choices(setting, value):
    with pytest.raises(ValueError, match=f"{value}'; choose one of: "):
        Settings(**{setting: value})


def test_settings_accept_every_registered_backend_and_none_where_optional():
    s = Settings(text_encoder="hashing", image_encoder="none", fusion="linear", ranker="lambdamart",
                 profile_store="redis", cf_model="none", speech_backend="pocketsphinx")
    assert (s.text_encoder, s.image_encoder, s.cf_model) == ("hashing", "none", "none")
    with pytest.raises(ValueError, match="choose one of"):
        Settings(text_encoder="none")


def test_settings_reject_weights_for_unknown_retrievers_and_features():
    with pytest.raises(ValueError, match=r"unknown retrievers \['txet'\]; known: bm25, text"):
        Settings(retriever_weights={"txet": 2.0})
    with pytest.raises(ValueError, match=r"unknown features \['cos_txet'\]"):
        Settings(ranker_weights={"cos_txet": 2.0})
    assert Settings(retriever_weights={"label": 0.0}).retriever_weights == {"label": 0.0}

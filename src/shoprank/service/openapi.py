"""The request bodies the OpenAPI spec cannot infer: /search and /events read their bodies
themselves (JSON or a multipart form; one event, a list, or a batch), so their schemas are
declared here, for generated clients and fuzzers."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from shoprank.analytics.experiments import Experiment
from shoprank.search.merch_rule import MerchRule
from shoprank.service.schemas import EventBatch, SearchRequest
from shoprank.types import Event

_REF = "#/components/schemas/{model}"
_MODELS: tuple[type[BaseModel], ...] = (SearchRequest, Event, EventBatch, Experiment, MerchRule)


def ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _form_schema() -> dict[str, Any]:
    """The multipart form of POST /search: the JSON fields as text, plus the uploads."""
    props: dict[str, Any] = {}
    for name, field in SearchRequest.model_fields.items():
        kind = field.annotation
        if kind is bool:  # a blank field is left out: the default
            props[name] = {"type": "string", "enum": ["true", "false", ""]}
        elif name == "colors":
            props[name] = {"type": "string", "description": "comma-separated colours"}
        else:
            props[name] = {"type": "string"}
    props["image"] = {"type": "string", "format": "binary", "description": "a photo (JPEG, PNG, WebP...)"}
    props["audio"] = {"type": "string", "format": "binary", "description": "a voice query (wav, webm, ogg)"}
    props["video"] = {"type": "string", "format": "binary",
                      "description": "a short video (MP4, WebM...): its keyframes pooled into one photo query"}
    return {"type": "object", "properties": props}


SEARCH_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": ref("SearchRequest")},
    "multipart/form-data": {"schema": ref("SearchForm")},
}}}
EXPERIMENT_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": ref("Experiment")}}}}
RULE_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": ref("MerchRule")}}}}
EVENTS_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"oneOf": [
        ref("Event"),
        {"type": "array", "items": ref("Event"), "minItems": 1, "maxItems": 1000},
        ref("EventBatch"),
    ]}},
}}}


def install_openapi(app: FastAPI) -> None:
    """Add the hand-declared bodies' schemas to the generated spec's components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = FastAPI.openapi(app)
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for model in _MODELS:
            js = model.model_json_schema(ref_template=_REF)
            schemas.update(js.pop("$defs", {}))
            schemas[model.__name__] = js
        schemas["SearchForm"] = _form_schema()
        # Operations of a public scope take a key but do not need one: {} is "no security".
        public = {f"{scope}Key" for scope in app.state.access.public}
        for ops in spec.get("paths", {}).values():
            for op in ops.values():
                security = op.get("security") or []
                if any(set(req) <= public for req in security):
                    op["security"] = [{}, *security]
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]

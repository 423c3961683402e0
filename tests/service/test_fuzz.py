"""Property-based fuzzing of every operation in the OpenAPI spec (schemathesis): valid and invalid
requests alike must get a documented answer that matches the spec, never a 5xx.

``SHOPRANK_FUZZ_EXAMPLES`` sets the examples per operation and mode (default 25 keeps this test
to about a minute on two cores; benchmarks/fuzz.py runs many more and counts them)."""
from __future__ import annotations

import copy
import json
import os

import pytest
from pydantic import SecretStr

schemathesis = pytest.importorskip("schemathesis", reason="pip install 'shoprank[dev]' (schemathesis)")
from hypothesis import HealthCheck, settings  # noqa: E402  (installed with schemathesis)
from schemathesis.checks import positive_data_acceptance  # noqa: E402

from shoprank.query.synonym_store import MemorySynonymStore  # noqa: E402
from shoprank.service import create_app  # noqa: E402

# Hundreds of requests through the whole app (~30 s on two cores): slow tier.
pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("SHOPRANK_FUZZ_EXAMPLES", "25"))


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value):
    # The bulk body is declared a string (NDJSON text); anything else goes as its JSON text.
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else json.dumps(value).encode()

ADMIN = "fuzz-admin-key"


@pytest.fixture(scope="module")
def api_schema(fake_engine):
    engine = copy.copy(fake_engine)
    engine.synonyms = MemorySynonymStore()  # the sets it PUTs stay out of the shared engine's searches
    # Keys in force (the admin key is sent, so the fuzzer reaches the handlers); no rate limit,
    # so every example is a real request rather than a 429.
    engine.settings = fake_engine.settings.model_copy(update={
        "admin_key": SecretStr(ADMIN), "rate_search_per_s": 0.0, "rate_events_per_s": 0.0})
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(engine))
    # The key is sent with every case (below), so a "negative" case that drops it is no such case;
    # unknown query parameters are ignored, as HTTP APIs do, so adding one makes no invalid request.
    schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_5xx_and_responses_match_the_spec(case):
    # Every check but one: a schema-valid body can still be refused with a documented 4xx
    # (random bytes as a photo, a product id that does not exist), which no schema can express.
    case.call_and_validate(headers={"X-API-Key": ADMIN}, excluded_checks=[positive_data_acceptance])

"""Shared fixtures: models and the Luma index are built once per test session.

Two tiers. The fast one runs on model-free encoders (``hashing`` text, ``palette``
photos) over the small demo catalog: ``pytest -m "not slow"``. Tests that need real
models, the data bundle, Redis, a browser or a child process are ``slow``: marked here
when they use one of :data:`SLOW_FIXTURES`, or in their module."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

try:  # one line instead of an import error per test module when the package is not installed
    import shoprank  # noqa: F401
except ImportError as e:
    pytest.exit(f"cannot import shoprank in {sys.executable} ({e}): install it into this Python first, "
                'e.g. `python -m pip install -e ".[all,dev]"`, then run `python -m pytest -q`', returncode=4)
DATA_DIR = Path(os.environ.get("SHOPRANK_DATA_DIR", REPO.parent / "shared" / "data")).resolve()
LUMA = DATA_DIR / "magento_luma"
# Embeddings survive between local runs here (gitignored); CI starts empty and fills it once.
CACHE_HOME = Path(os.environ.get("SHOPRANK_TEST_HOME", REPO / "var" / "test-home"))

needs_luma = pytest.mark.skipif(not (LUMA / "fixtures").is_dir(),
                                reason=f"Magento Luma data not found at {LUMA} (set SHOPRANK_DATA_DIR)")


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    from shoprank.config import Settings

    home = tmp_path_factory.mktemp("home")
    (home / "cache").mkdir()
    shared_cache = CACHE_HOME / "cache" / "embeddings.sqlite"
    shared_cache.parent.mkdir(parents=True, exist_ok=True)
    (home / "cache" / "embeddings.sqlite").symlink_to(shared_cache)
    return Settings(home=home, data_dir=DATA_DIR)


@pytest.fixture(scope="session")
def text_encoder():
    from shoprank.encoders import TEXT_ENCODERS

    return TEXT_ENCODERS.create("e5")


@pytest.fixture(scope="session")
def image_encoder():
    from shoprank.encoders import IMAGE_ENCODERS

    return IMAGE_ENCODERS.create("efficientnet")


@pytest.fixture(scope="session")
def luma_import():
    if not (LUMA / "fixtures").is_dir():
        pytest.skip(f"Magento Luma data not found at {LUMA} (set SHOPRANK_DATA_DIR)")
    from shoprank.catalog import load_magento

    return load_magento(LUMA)


@pytest.fixture(scope="session")
def luma_engine(luma_import, settings, text_encoder, image_encoder):
    from shoprank.catalog import Catalog
    from shoprank.engine import ShopRank

    return ShopRank.build(Catalog(luma_import.products), settings.index_dir("luma"), settings,
                          text_encoder, image_encoder)


@pytest.fixture(scope="session")
def demo_engine(tmp_path_factory, settings, text_encoder, image_encoder):
    from shoprank.catalog import Catalog, load_catalog_file
    from shoprank.catalog.demo import write_demo_catalog
    from shoprank.engine import ShopRank

    path = write_demo_catalog(tmp_path_factory.mktemp("demo"))
    res = load_catalog_file(path)
    assert not res.errors
    return ShopRank.build(Catalog(res.products), settings.index_dir("demo"), settings, text_encoder, image_encoder)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """URL of a throwaway redis-server for this test session (skips when redis is unavailable)."""
    import importlib.util
    import shutil

    if shutil.which("redis-server") is None or importlib.util.find_spec("redis") is None:
        pytest.skip("redis-server not installed (apt-get install redis-server)")
    from redis_server import start_redis_server, stop_redis_server

    url, proc = start_redis_server(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        stop_redis_server(proc)


# Fixtures that load real models or the data bundle, or start servers: a test using one is slow.
SLOW_FIXTURES = frozenset({"text_encoder", "image_encoder", "luma_import", "luma_engine", "demo_engine",
                           "redis_url", "whisper", "sphinx", "red_backpack"})


def _needs_data(item) -> bool:
    return any("SHOPRANK_DATA_DIR" in str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif"))


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())) or _needs_data(item):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory):
    """The embedded demo catalog (54 products, drawn photos, reviews, EN/ZH titles)."""
    from shoprank.catalog import Catalog, load_catalog_file
    from shoprank.catalog.demo import write_demo_catalog

    res = load_catalog_file(write_demo_catalog(tmp_path_factory.mktemp("demo-fake")))
    assert not res.errors
    return Catalog(res.products)


@pytest.fixture(scope="session")
def fake_settings(tmp_path_factory):
    """Settings of the fast tier: model-free encoders, in-memory profiles."""
    from shoprank.config import Settings

    return Settings(home=tmp_path_factory.mktemp("fake-home"), data_dir=DATA_DIR, text_encoder="hashing",
                    image_encoder="palette", profile_store="memory")


@pytest.fixture(scope="session")
def fake_engine(demo_catalog, fake_settings):
    """The demo catalog indexed with the model-free encoders (builds in about a second)."""
    from shoprank.engine import ShopRank

    return ShopRank.build(demo_catalog, fake_settings.index_dir("demo"), fake_settings)

"""Embedding maps of the demo catalog."""


def test_embedding_maps(demo_engine, tmp_path):
    from PIL import Image

    from shoprank.evaluation.plots import embedding_maps

    png = embedding_maps(demo_engine, tmp_path / "emb.png", level=1)
    with Image.open(png) as im:
        assert im.width > 1000 and im.height > 800

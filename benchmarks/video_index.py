"""Product videos: what decoding and indexing them costs, and proof that an index without videos
searches exactly as before.

``cost``: ``--clips`` generated 10 s H.264 clips (640x360, 25 fps), each three or four Luma
photos with a slow zoom and pan, are decoded (keyframes and the audio track) and then indexed as
the videos of as many products (no photos, the ``hashing`` text encoder: the video modalities'
cost alone) through the configured image encoder, cold (a fresh embedding cache). Reported:
frames and keyframes decoded per second, videos indexed per minute, vector memory per video.

``unchanged``: the Luma catalog (no videos) is indexed and searched by 40 text queries and 30
shopper-style photo queries with the source tree given (``--src``, default this one); run it
for the main tree and this one and ``compare`` the two dumps: hits, scores and every feature
but the new ``*video*`` ones must be identical (those all 0).

    python benchmarks/video_index.py cost [--clips 6]
    python benchmarks/video_index.py unchanged --src /work/main/src --dump before.json
    python benchmarks/video_index.py unchanged --dump after.json
    python benchmarks/video_index.py compare before.json after.json
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

from common import DATA_DIR, REPO, ZH, save, table, wands_queries

SIZE, FPS, SECONDS = (640, 360), 25, 10
VIDEO_MODALITIES = ("video", "video_mean", "video_label")


def luma_photos(n: int, seed: int = 0) -> list[Path]:
    photos = sorted((DATA_DIR / "magento_luma" / "images" / "product").rglob("*.jpg"))
    return random.Random(seed).sample(photos, n)


def _shot(photo: Path, frames: int, rng: random.Random) -> list[np.ndarray]:
    """A slow zoom and pan over one photo, as a phone filming a product would."""
    with Image.open(photo) as im:
        im = im.convert("RGB")
    w, h = im.size
    z0, z1 = rng.uniform(0.85, 1.0), rng.uniform(0.6, 0.8)
    dx = rng.uniform(-0.1, 0.1)
    out = []
    for i in range(frames):
        a = i / max(1, frames - 1)
        z = z0 + (z1 - z0) * a
        cw, ch = w * z, w * z * SIZE[1] / SIZE[0]
        ch = min(ch, h)
        cx, cy = w / 2 + dx * w * a, h / 2
        box = (max(0, cx - cw / 2), max(0, cy - ch / 2), min(w, cx + cw / 2), min(h, cy + ch / 2))
        out.append(np.asarray(im.resize(SIZE, Image.BILINEAR, box=box)))
    return out


def make_demo_clip(photos: list[Path], path: Path, seed: int) -> None:
    """A 10 s clip: one shot per photo, with a 440 Hz tone as its sound."""
    import av

    rng = random.Random(seed)
    per = SECONDS * FPS // len(photos)
    with av.open(str(path), "w", format="mp4") as out:
        v = out.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt, v.options = SIZE[0], SIZE[1], "yuv420p", {"preset": "veryfast"}
        a = out.add_stream("aac", rate=16000)
        n = 0
        for photo in photos:
            for img in _shot(photo, per, rng):
                f = av.VideoFrame.from_ndarray(img, format="rgb24")
                f.pts, f.time_base = n, Fraction(1, FPS)
                out.mux(v.encode(f))
                n += 1
        out.mux(v.encode())
        t = np.arange(SECONDS * 16000) / 16000
        pcm = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        for s in range(0, pcm.shape[1], 1024):
            af = av.AudioFrame.from_ndarray(pcm[:, s:s + 1024], format="fltp", layout="mono")
            af.sample_rate, af.pts = 16000, s
            out.mux(a.encode(af))
        out.mux(a.encode())


def cost(args: argparse.Namespace) -> None:
    import av

    from shoprank import factory
    from shoprank.config import Settings
    from shoprank.encoders.video_decode import decode_video
    from shoprank.index.encode import encode_products
    from shoprank.modalities import BY_NAME
    from shoprank.types import Product

    folder = Path(tempfile.mkdtemp(prefix="video-bench-"))
    photos = luma_photos(args.clips * 4)
    clips = []
    t0 = time.perf_counter()
    for i in range(args.clips):
        path = folder / f"clip{i}.mp4"
        make_demo_clip(photos[i * 4: i * 4 + 3 + i % 2], path, i)
        clips.append(path)
    made = time.perf_counter() - t0
    rows, frames_total, keys_total, decode_s = [], 0, 0, 0.0
    for path in clips:
        with av.open(str(path)) as c:
            frames = c.streams.video[0].frames
        t = time.perf_counter()
        v = decode_video(path, audio=True)
        s = time.perf_counter() - t
        frames_total, keys_total, decode_s = frames_total + frames, keys_total + len(v.keyframes), decode_s + s
        rows.append({"clip": path.name, "bytes": path.stat().st_size, "frames": frames,
                     "keyframes": len(v.keyframes), "scenes": sum(k.scene for k in v.keyframes),
                     "audio s": round(len(v.audio) / 16000, 2) if v.audio is not None else 0,
                     "decode s": round(s, 3)})
    print(table(rows, list(rows[0])))
    settings = Settings(home=folder / "home", text_encoder="hashing", profile_store="memory")
    products = [Product(id=f"v{i}", title=f"Demo {i}", videos=[str(p)]) for i, p in enumerate(clips)]
    t = time.perf_counter()
    encoders = factory.encoders(settings)
    if encoders.image is not None:
        encoders.image.encode([Image.new("RGB", (224, 224))])  # the model loaded before the clock starts
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    encoded = encode_products(products, encoders, None, [BY_NAME[m] for m in VIDEO_MODALITIES])  # cold: no cache
    video_s = time.perf_counter() - t
    vec_bytes = sum(r.vectors.nbytes for m, r in encoded.rows.items() if m in VIDEO_MODALITIES)
    summary = {
        "clips": len(clips), "clip seconds": SECONDS, "size": f"{SIZE[0]}x{SIZE[1]}@{FPS}",
        "image encoder": settings.image_encoder, "make clips s": round(made, 2),
        "frames decoded/s": round(frames_total / decode_s, 1), "keyframes/s (decode)": round(keys_total / decode_s, 1),
        "keyframes/s (decode+encode)": round(keys_total / video_s, 1),
        "videos indexed/min (cold)": round(60 * len(clips) / video_s, 1), "index s": round(video_s, 2),
        "model load s": round(load_s, 2),
        "rows": {m: int(len(r.vectors)) for m, r in encoded.rows.items() if m in VIDEO_MODALITIES},
        "vector bytes/video": int(vec_bytes / len(clips)),
        "frame times bytes/video": int(np.mean([len(json.dumps(p.video_frames)) for p in encoded])),
    }
    for k, v in summary.items():
        print(f"{k}: {v}")
    print("results:", save("video_index_cost", {"load_before": os.getloadavg()[0], "clips": rows, **summary}))


def _queries() -> tuple[list[str], list[tuple[str, bytes]]]:
    from photo_queries import shopper_photo
    from shoprank.catalog import load_magento

    texts = wands_queries()[::15][:32] + ZH
    owner: dict[str, str] = {}
    for p in load_magento(DATA_DIR / "magento_luma").products:
        for img in p.images[:1]:
            owner.setdefault(str(img), p.id)
    photos = sorted(owner.items())[::24][:30]
    return texts, [(pid, shopper_photo(path, i)) for i, (path, pid) in enumerate(photos)]


def unchanged(args: argparse.Namespace) -> None:
    """Search dump of the Luma catalog (no videos) with whatever shoprank is importable."""
    import shoprank
    from shoprank.catalog import Catalog, load_magento
    from shoprank.config import Settings
    from shoprank.engine import ShopRank
    from shoprank.types import Query

    home = Path(args.home)
    settings = Settings(home=home, data_dir=DATA_DIR, profile_store="memory")
    out = home / f"index-{abs(hash(shoprank.__file__))}"
    engine = ShopRank.build(Catalog(load_magento(DATA_DIR / "magento_luma").products), out, settings)
    texts, photos = _queries()
    dump: dict = {"package": shoprank.__file__, "modalities": sorted(engine.artifacts.modalities), "searches": []}
    asked = [Query(text=t, k=10, explain=True) for t in texts] + [Query(image=b, k=10, explain=True) for _, b in photos]
    for q in asked:
        res = engine.search(q)
        dump["searches"].append({"retrievers": res.retrievers,
                                 "hits": [{"id": h.product.id, "score": h.score, "features": h.features}
                                          for h in res.hits]})
    Path(args.dump).write_text(json.dumps(dump))
    print(f"{len(asked)} searches by {shoprank.__file__} -> {args.dump}")


def compare(args: argparse.Namespace) -> None:
    a, b = (json.loads(Path(p).read_text()) for p in (args.before, args.after))
    same_hits = same_scores = same_features = 0
    new_nonzero = 0
    for x, y in zip(a["searches"], b["searches"], strict=True):
        same_hits += [h["id"] for h in x["hits"]] == [h["id"] for h in y["hits"]] and x["retrievers"] == y["retrievers"]
        same_scores += [h["score"] for h in x["hits"]] == [h["score"] for h in y["hits"]]
        old = [h["features"] for h in x["hits"]]
        new = [{k: v for k, v in h["features"].items() if "video" not in k} for h in y["hits"]]
        same_features += old == new
        new_nonzero += sum(v != 0 for h in y["hits"] for k, v in h["features"].items() if "video" in k)
    n = len(a["searches"])
    row = {"searches": n, "same hits+retrievers": same_hits, "same scores": same_scores,
           "same features": same_features, "nonzero video features": new_nonzero,
           "modalities before": ",".join(a["modalities"]), "modalities after": ",".join(b["modalities"])}
    print(table([row], list(row)))
    print("results:", save("video_unchanged", row))


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cost")
    c.add_argument("--clips", type=int, default=6)
    u = sub.add_parser("unchanged")
    u.add_argument("--dump", required=True)
    u.add_argument("--home", default=str(REPO / "var" / "bench-video"))
    u.add_argument("--src", help="run with this source tree's shoprank (e.g. the main checkout's src)")
    m = sub.add_parser("compare")
    m.add_argument("before")
    m.add_argument("after")
    args = ap.parse_args()
    if args.cmd == "unchanged" and args.src:
        os.execve(sys.executable, [sys.executable, __file__, "unchanged", "--dump", args.dump, "--home", args.home],
                  {**os.environ, "PYTHONPATH": os.pathsep.join([args.src, str(Path(__file__).parent)])})
    {"cost": cost, "unchanged": unchanged, "compare": compare}[args.cmd](args)


if __name__ == "__main__":
    main()

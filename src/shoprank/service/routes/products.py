"""Products, their photos, similar items and categories."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse

from shoprank.catalog.videos import VIDEO_TYPES, container_of
from shoprank.service.deps import EngineDep
from shoprank.service.guard import AUTH_RESPONSES, ERROR_RESPONSES, NOT_FOUND
from shoprank.service.schemas import ProductPublic, ResultPublic, SegmentsDep, SimilarResponse
from shoprank.service.security import require

router = APIRouter(tags=["products"], dependencies=[require("search")],
                   responses={**ERROR_RESPONSES, **AUTH_RESPONSES, **NOT_FOUND})


def _product_or_404(engine: EngineDep, pid: str):
    p = engine.product(pid)
    if p is None:
        raise HTTPException(404, f"no product with id {pid!r}")
    return p


@router.get("/products/{pid}", response_model=ProductPublic)
def get_product(pid: str, engine: EngineDep) -> ProductPublic:
    art = engine.artifacts  # one generation for the product and its photo labels, even during a reload
    p = art.catalog.get(pid)
    if p is None:
        raise HTTPException(404, f"no product with id {pid!r}")
    labels = [engine.understanding.shown_labels(per_photo) for per_photo in art.photo_labels(art.catalog.position(pid))]
    return ProductPublic.from_product(p, labels)


@router.get("/similar/{pid}", response_model=SimilarResponse)
def similar(pid: str, engine: EngineDep, segments: SegmentsDep, k: int = Query(10, ge=1, le=100)) -> SimilarResponse:
    """Items like ``pid``; none a site-wide merchandising rule (or one of ``segments``) hides."""
    try:
        hits = engine.similar(pid, k, segments)
    except KeyError:  # not in the catalog (of the generation served when the search ran)
        raise HTTPException(404, f"no product with id {pid!r}") from None
    return SimilarResponse(id=pid, results=[ResultPublic.from_hit(h) for h in hits])


_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/bmp", "image/webp")


@router.get("/images/{pid}/{n}", response_class=FileResponse, responses={200: {
    "description": "the photo, as stored", "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                       for t in _IMAGE_TYPES}}})
def product_image(pid: str, n: int, request: Request, engine: EngineDep) -> FileResponse:
    # Only paths recorded in the catalog are served: a request cannot name a file.
    p = _product_or_404(engine, pid)
    path = _servable(p.images[n], engine.settings.image_root) if 0 <= n < len(p.images) else None
    # Importers keep photos inside the catalog's image folder; an index built before that rule
    # may still name any file, so only a file whose header is an image's is ever sent.
    media = _image_type(path) if path is not None else None
    if path is None or media is None:
        raise HTTPException(404, f"product {pid!r} has no image {n}")
    # Shared caches may keep a photo only when anyone may fetch it.
    cache = "public" if "search" in request.app.state.access.public else "private"
    return FileResponse(path, media_type=media, headers={"Cache-Control": f"{cache}, max-age=86400"})


@router.get("/videos/{pid}/{n}", response_class=FileResponse, responses={
    200: {"description": "the video, as stored", "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                             for t in sorted(set(VIDEO_TYPES.values()))}},
    206: {"description": "the byte range asked for (Range: bytes=...)"}})
def product_video(pid: str, n: int, request: Request, engine: EngineDep) -> FileResponse:
    """A product's video; players seek with range requests (206), as for any static file."""
    p = _product_or_404(engine, pid)
    path = _servable(p.videos[n], engine.settings.image_root) if 0 <= n < len(p.videos) else None
    container = container_of(path) if path is not None else None  # only a file whose header is a video's
    if path is None or container is None:
        raise HTTPException(404, f"product {pid!r} has no video {n}")
    cache = "public" if "search" in request.app.state.access.public else "private"
    return FileResponse(path, media_type=VIDEO_TYPES[container], headers={"Cache-Control": f"{cache}, max-age=86400"})


def _servable(stored: str, image_root: Path | None) -> str | None:
    """The file to send for a recorded photo path, or None. Paths were resolved inside the image
    folder when written, but the file may since have become a symlink to anywhere: resolve again
    now, and send it only where it still is that path, or inside the image folder."""
    try:
        real = Path(stored).resolve(strict=True)
    except (OSError, RuntimeError):  # gone, a symlink loop
        return None
    inside = image_root is not None and real.is_relative_to(Path(image_root).resolve())
    if not real.is_file() or (real != Path(stored) and not inside):
        return None
    return str(real)


_SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF8", "image/gif"),
               (b"BM", "image/bmp"))


def _image_type(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((media for sig, media in _SIGNATURES if head.startswith(sig)), None)


@router.get("/categories")
def categories(engine: EngineDep) -> dict[str, list[dict[str, object]]]:
    counts: Counter[str] = Counter()
    for p in engine.artifacts.catalog.live():
        for c in p.categories:
            parts = c.split("/")
            for i in range(1, len(parts) + 1):
                counts["/".join(parts[:i])] += 1
    return {"categories": [{"path": c, "count": n} for c, n in sorted(counts.items())]}

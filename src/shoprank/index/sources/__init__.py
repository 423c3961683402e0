"""Modality sources, registered by name (a :class:`~shoprank.modalities.ModalitySpec` names one).

A new source is one file beside these with a :class:`Source` subclass, registered here or by
whoever defines it (``SOURCES.register("video_frames", VideoFrames)``)."""
from shoprank.index.sources.base import SOURCES, Batch, Inputs, Rows, Source, plan

SOURCES.register("product_text", "shoprank.index.sources.text:ProductTextSource")
SOURCES.register("reviews", "shoprank.index.sources.text:ReviewSource")
SOURCES.register("photos", "shoprank.index.sources.photos:PhotoSource")
SOURCES.register("photo_labels", "shoprank.index.sources.photos:PhotoLabelSource")
SOURCES.register("video_frames", "shoprank.index.sources.video:VideoFrameSource")
SOURCES.register("video_pooled", "shoprank.index.sources.video:VideoPooledSource")
SOURCES.register("video_labels", "shoprank.index.sources.video:VideoLabelSource")

__all__ = ["SOURCES", "Batch", "Inputs", "Rows", "Source", "plan"]

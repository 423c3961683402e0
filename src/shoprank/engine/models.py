"""The engine's models, each loaded on first use: the text and image encoders an index is
queried with, and speech-to-text for voice queries."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from shoprank import factory
from shoprank.config import Settings
from shoprank.encoders.base import EncoderSet, ImageEncoder, TextEncoder
from shoprank.lazy import Lazy
from shoprank.query.plan import QueryError

if TYPE_CHECKING:
    from shoprank.encoders.speech import SpeechRecognizer, Transcript

log = logging.getLogger(__name__)
E = TypeVar("E")


class Models:
    def __init__(self, settings: Settings, manifest: Callable[[], dict[str, object]],
                 text: TextEncoder | None = None, image: ImageEncoder | None = None):
        self._manifest = manifest  # the served index's: which encoders built it
        self._text = Lazy(lambda: self._checked(factory.text_encoder(settings), "text_encoder"), text)
        self._image: Lazy[ImageEncoder | None] = Lazy(
            lambda: self._checked(factory.image_encoder(settings), "image_encoder"), image)
        self._encoders = Lazy(lambda: EncoderSet(self.text, self.image))
        self._speech: Lazy[SpeechRecognizer] = Lazy(lambda: factory.speech(settings))

    def _checked(self, encoder: E, role: str) -> E:
        """``encoder``, warning when the index was built by another one (another model, or the
        same model on another runtime or graph version): its queries then land in another space."""
        built = self._manifest().get(role)
        name = getattr(encoder, "name", None)
        if encoder is not None and built and name != built:
            log.warning("the index was built with %s %s but queries use %s: rebuild the index "
                        "(shoprank index) or set the encoder it was built with", role.replace("_", " "), built, name)
        return encoder

    @property
    def text(self) -> TextEncoder:
        return self._text.get()

    @property
    def image(self) -> ImageEncoder | None:
        if not self._manifest().get("image_encoder"):
            return None  # photos were not indexed
        return self._image.get()

    def encoders(self) -> EncoderSet:
        return self._encoders.get()

    @property
    def speech(self) -> SpeechRecognizer:
        """Speech-to-text for voice queries; the model loads on first use."""
        return self._speech.get()

    def transcribe(self, audio: bytes) -> Transcript:
        """Speech to query text. Raises :class:`QueryError` for audio that cannot be used."""
        from shoprank.encoders.speech import AudioError

        try:
            return self.speech.transcribe(audio)
        except AudioError as e:
            raise QueryError(str(e)) from None

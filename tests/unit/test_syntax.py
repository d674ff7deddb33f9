"""Code units from a parser: definitions, statements and imports of Python, JavaScript and C."""

from __future__ import annotations

import pytest

from atten_scope.views import syntax
from atten_scope.views.syntax import LANGUAGE_IDS, SyntaxUnit, SyntaxUnits, has_grammar, parse_units

PYTHON = '''import os
from collections import (OrderedDict,
    defaultdict)

_last = None


class UUID:
    """A universally unique identifier."""

    @property
    def hex(self):
        return "%032x" % self.int

    def fields(self):
        class Inner:
            def value(self):
                return 1
        return Inner


def uuid1(node=None):
    global _last
    for item in range(3):  # a comment after the head
        print(item)
    with open(os.devnull) as sink:
        sink.write("x")
    if node is None:
        node = 0
    return node
'''

JAVASCRIPT = """import fs from 'fs';

export function parse(text) {
  for (const line of text.split('\\n')) {
    console.log(line);
  }
  return text;
}

class Reader extends Base {
  static create() { return new Reader(); }
  read(path) { return fs.readFileSync(path); }
}

const add = (a, b) => { return a + b; };
"""

C_HEADER = """#ifndef READER_H
#define READER_H

#include <stdio.h>
#include "util.h"

/* A reader over a file. */
struct reader {
    FILE *file;
    int line;
};

typedef struct { int x, y; } point_t;

int reader_open(struct reader *r, const char *path);
static char *reader_line(struct reader *r);
int (*on_line)(const char *);

#endif
"""

C_SOURCE = """#include "reader.h"

int main(int argc, char **argv) {
    struct reader r;
    for (int i = 1; i < argc; i++) {
        reader_open(&r, argv[i]);
    }
    if (argc < 2)
        return 1;
    return 0;
}
"""


def _by_label(units: tuple[SyntaxUnit, ...]) -> dict[str, SyntaxUnit]:
    found: dict[str, SyntaxUnit] = {}
    for unit in units:
        assert unit.label not in found, f"two units read {unit.label!r}"
        found[unit.label] = unit
    return found


def _parsed(text: str, language: str) -> SyntaxUnits:
    units = parse_units(text, language)
    assert units is not None
    return units


def _span(text: str, first: str, last: str) -> tuple[int, int]:
    """[start, end) from the first occurrence of ``first`` to the end of the next ``last`` after it."""
    start = text.index(first)
    return start, text.index(last, start) + len(last)


def test_python_definitions_are_named_by_what_they_define_and_nest() -> None:
    units = _parsed(PYTHON, "python")
    definitions = _by_label(units.definitions)
    assert list(definitions) == ["class UUID", "def hex", "def fields", "class Inner", "def value", "def uuid1"]
    assert [(d.name, d.kind) for d in units.definitions] == [
        ("UUID", "class"),
        ("hex", "method"),
        ("fields", "method"),
        ("Inner", "class"),
        ("value", "method"),
        ("uuid1", "function"),
    ]
    # A decorated method covers its decorator; a definition ends with its last statement.
    assert (definitions["def hex"].start, definitions["def hex"].end) == _span(PYTHON, "@property", "self.int")
    assert (definitions["class UUID"].start, definitions["class UUID"].end) == _span(
        PYTHON, "class UUID", "return Inner"
    )
    assert (definitions["def uuid1"].start, definitions["def uuid1"].end) == _span(PYTHON, "def uuid1", "return node")
    assert (definitions["def value"].start, definitions["def value"].end) == _span(PYTHON, "def value", "return 1")


def test_python_statements_imports_and_control_heads() -> None:
    units = _parsed(PYTHON, "python")
    statements = _by_label(units.statements)
    assert statements["import os"].kind == "import"
    imported = statements["from collections import (OrderedDict, defaultdict)"]
    assert imported.kind == "import"
    assert (imported.start, imported.end) == _span(PYTHON, "from collections", "defaultdict)")
    # Control statements are named by their head, comments left out, and cover their body.
    loop = statements["for item in range(3)"]
    assert loop.kind == "control"
    assert (loop.start, loop.end) == _span(PYTHON, "for item", "print(item)")
    assert statements["with open(os.devnull) as sink"].kind == "control"
    assert statements["if node is None"].kind == "control"
    # A `global` statement is a statement of its function, never a definition or a unit's name.
    assert statements["global _last"].kind == "statement"
    assert statements["return node"].kind == "statement"
    assert statements['"""A universally unique identifier."""'].kind == "statement"
    # Only the top level of a body: the loop's own statement and the definitions are not statements.
    assert "print(item)" not in statements
    assert not any(label.startswith(("def ", "class ", "@")) for label in statements)
    # Statements of a nested definition's body are statements too.
    assert "return 1" in statements and "return Inner" in statements


def test_javascript_definitions_statements_and_imports() -> None:
    units = _parsed(JAVASCRIPT, "javascript")
    definitions = _by_label(units.definitions)
    assert [(d.label, d.kind) for d in units.definitions] == [
        ("function parse", "function"),
        ("class Reader", "class"),
        ("static create", "method"),
        ("read", "method"),
        ("const add", "function"),
    ]
    # An exported function covers its `export`.
    parse = definitions["function parse"]
    assert (parse.start, parse.end) == _span(JAVASCRIPT, "export function", "return text;\n}")
    assert definitions["const add"].name == "add"
    statements = _by_label(units.statements)
    assert statements["import fs from 'fs';"].kind == "import"
    assert statements["for (const line of text.split('\\n'))"].kind == "control"
    assert {"return text;", "return new Reader();", "return a + b;"} <= set(statements)
    assert "console.log(line);" not in statements  # inside the loop, not at the top of a body


def test_javascript_grammar_also_reads_jsx_and_typescript_has_its_own() -> None:
    jsx = _parsed("function App() {\n  return <div>{name}</div>;\n}\n", "javascriptreact")
    assert [d.label for d in jsx.definitions] == ["function App"]
    ts = _parsed("interface Shape { area(): number; }\nenum Color { Red }\n", "typescript")
    assert [(d.label, d.kind) for d in ts.definitions] == [
        ("interface Shape", "interface"),
        ("area", "method"),
        ("enum Color", "enum"),
    ]


def test_c_header_prototypes_struct_and_includes() -> None:
    units = _parsed(C_HEADER, "c")
    definitions = _by_label(units.definitions)
    assert [(d.label, d.name, d.kind) for d in units.definitions] == [
        ("struct reader", "reader", "struct"),
        ("typedef struct point_t", "point_t", "struct"),
        ("int reader_open(...)", "reader_open", "function"),
        ("static char *reader_line(...)", "reader_line", "function"),
    ]
    struct = definitions["struct reader"]
    assert (struct.start, struct.end) == _span(C_HEADER, "struct reader {", "};")
    # The include guard holds the whole header: its contents are still the top level.
    statements = _by_label(units.statements)
    assert statements["#include <stdio.h>"].kind == "import"
    assert statements['#include "util.h"'].kind == "import"
    assert statements["#define READER_H"].kind == "statement"
    # A pointer to a function is a variable, not a prototype; a comment is no unit.
    assert statements["int (*on_line)(const char *);"].kind == "statement"
    assert not any("reader over" in label for label in statements)
    assert "FILE *file;" in statements  # the struct's fields are its body's statements


def test_c_function_and_the_statements_of_its_body() -> None:
    units = _parsed(C_SOURCE, "c")
    (main,) = units.definitions
    assert (main.label, main.kind) == ("int main(...)", "function")
    assert (main.start, main.end) == _span(C_SOURCE, "int main", "return 0;\n}")
    statements = _by_label(units.statements)
    assert [s.label for s in units.statements] == [
        '#include "reader.h"',
        "struct reader r;",
        "for (int i = 1; i < argc; i++)",
        "if (argc < 2)",
        "return 0;",
    ]
    loop = statements["for (int i = 1; i < argc; i++)"]
    assert (loop.start, loop.end) == _span(C_SOURCE, "for (int i", "}")


def test_a_syntax_error_still_yields_what_parses() -> None:
    text = (
        "import os\n"
        "\n"
        "def before(a):\n"
        "    return a\n"
        "\n"
        "def broken(x:\n"
        "    y = [1, 2\n"
        "    return y\n"
        "\n"
        "class After:\n"
        "    def method(self):\n"
        "        return 1\n"
    )
    units = _parsed(text, "python")
    assert [d.label for d in units.definitions] == ["def before", "class After", "def method"]
    after = _by_label(units.definitions)["class After"]
    assert (after.start, after.end) == _span(text, "class After", "return 1")
    assert {"import os", "return a", "return 1"} <= {s.label for s in units.statements}


def test_offsets_are_code_points() -> None:
    text = "größe = '😀'  # ünïcode\n\ndef λ(x):\n    return '😀' + x\n"
    units = _parsed(text, "python")
    (definition,) = units.definitions
    assert text[definition.start : definition.end] == "def λ(x):\n    return '😀' + x"
    assert definition.name == "λ"
    assert [text[s.start : s.end] for s in units.statements] == ["größe = '😀'", "return '😀' + x"]


def test_long_labels_are_cut_and_one_line() -> None:
    text = "x = [\n" + "".join(f"    {n},\n" for n in range(100)) + "]\n"
    (statement,) = _parsed(text, "python").statements
    assert len(statement.label) == syntax.MAX_LABEL and statement.label.endswith("\u2026")
    assert "\n" not in statement.label and statement.label.startswith("x = [ 0, 1, 2,")


def test_no_grammar_or_a_failing_parse_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_units("x = 1\n", None) is None
    assert parse_units("some text\n", "plaintext") is None
    assert not has_grammar("plaintext") and has_grammar("python")
    # A grammar package that is not installed.
    monkeypatch.setitem(syntax.GRAMMARS, "absent", syntax.Grammar("no_such_grammar_package", "language", {}))
    monkeypatch.setitem(LANGUAGE_IDS, "absent-language", "absent")
    assert parse_units("x = 1\n", "absent-language") is None
    assert not has_grammar("absent-language")

    # A parser that fails: the caller falls back, nothing is raised.
    def fail(*_: object) -> int | None:
        raise RuntimeError("parser failure")

    monkeypatch.setattr(syntax._Reader, "read", fail)
    assert parse_units("x = 1\n", "python") is None

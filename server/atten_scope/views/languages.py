"""The languages code is written in: the editor's language ids, their names for people, and the
language of a file by its name.

A measured figure names the languages it was measured on (``evidence``), and a document's language
decides whether that figure is its own or one that stands in for it. The editor says a document's
language (LSP ``languageId``); the CLI and the benchmark have only a file name.
"""

from __future__ import annotations

from pathlib import PurePath

# VS Code's language ids -> the names people read; an id not listed is shown as it is.
NAMES: dict[str, str] = {
    "bat": "Batch",
    "c": "C",
    "clojure": "Clojure",
    "cpp": "C++",
    "csharp": "C#",
    "css": "CSS",
    "dart": "Dart",
    "elixir": "Elixir",
    "go": "Go",
    "groovy": "Groovy",
    "haskell": "Haskell",
    "html": "HTML",
    "java": "Java",
    "javascript": "JavaScript",
    "javascriptreact": "JavaScript (JSX)",
    "json": "JSON",
    "julia": "Julia",
    "kotlin": "Kotlin",
    "latex": "LaTeX",
    "lua": "Lua",
    "markdown": "Markdown",
    "objective-c": "Objective-C",
    "ocaml": "OCaml",
    "perl": "Perl",
    "php": "PHP",
    "plaintext": "plain text",
    "powershell": "PowerShell",
    "python": "Python",
    "r": "R",
    "ruby": "Ruby",
    "rust": "Rust",
    "scala": "Scala",
    "shellscript": "shell",
    "sql": "SQL",
    "swift": "Swift",
    "typescript": "TypeScript",
    "typescriptreact": "TypeScript (TSX)",
    "xml": "XML",
    "yaml": "YAML",
    "zig": "Zig",
}

# File suffixes -> language ids, as VS Code assigns them for the common cases.
SUFFIXES: dict[str, str] = {
    ".bash": "shellscript",
    ".bat": "bat",
    ".c": "c",
    ".cc": "cpp",
    ".cjs": "javascript",
    ".clj": "clojure",
    ".cpp": "cpp",
    ".cs": "csharp",
    ".css": "css",
    ".cxx": "cpp",
    ".dart": "dart",
    ".ex": "elixir",
    ".exs": "elixir",
    ".go": "go",
    ".groovy": "groovy",
    ".h": "c",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hs": "haskell",
    ".htm": "html",
    ".html": "html",
    ".java": "java",
    ".jl": "julia",
    ".js": "javascript",
    ".json": "json",
    ".jsx": "javascriptreact",
    ".kt": "kotlin",
    ".kts": "kotlin",
    ".lua": "lua",
    ".m": "objective-c",
    ".md": "markdown",
    ".mjs": "javascript",
    ".ml": "ocaml",
    ".php": "php",
    ".pl": "perl",
    ".ps1": "powershell",
    ".py": "python",
    ".pyi": "python",
    ".r": "r",
    ".rb": "ruby",
    ".rs": "rust",
    ".scala": "scala",
    ".sh": "shellscript",
    ".sql": "sql",
    ".swift": "swift",
    ".tex": "latex",
    ".ts": "typescript",
    ".tsx": "typescriptreact",
    ".txt": "plaintext",
    ".xml": "xml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".zig": "zig",
    ".zsh": "shellscript",
}


def language_name(language: str) -> str:
    """``c`` -> ``C``, ``shellscript`` -> ``shell``: a language id as people name the language."""
    return NAMES.get(language, language)


def language_of_path(path: str | PurePath) -> str | None:
    """The language id of a file by its suffix (``main.c`` -> ``c``), or None where it is not known."""
    return SUFFIXES.get(PurePath(path).suffix.lower())

"""The engine: document -> tokens -> model -> captured state -> refined rows -> the analysis, and its storage."""

"""The Atten-Scope language server."""

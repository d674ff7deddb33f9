"""The protocol: the JSON objects of the requests (docs/PROTOCOL.md), shared by the CLI and the server."""

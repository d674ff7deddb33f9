import json
from pathlib import Path


def load_config(path, defaults=None):
    """Read a JSON config file and fill in missing keys from defaults."""
    settings = dict(defaults or {})
    text = Path(path).read_text(encoding="utf-8")
    for key, value in json.loads(text).items():
        if key.startswith("_"):
            continue
        settings[key] = value
    return settings


config = load_config("app.json", defaults={"port": 8080, "debug": False})
print(config["

"""The browser client: static ES modules served as files, no build step."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent

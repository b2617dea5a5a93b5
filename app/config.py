"""Configuration: development defaults in code, secrets and DATABASE_URL from the environment."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


class Config:
    """Defaults for a single machine with an embedded SQLite database."""

    ENV = "development"
    SECRET_KEY = "dev-only-not-secret"
    DATABASE_URL = f"sqlite:///{INSTANCE / 'liaison.db'}"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    WTF_CSRF_TIME_LIMIT = None
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_LOGIN = "10 per minute"
    PAGE_SIZE = 20
    MAX_CONTENT_LENGTH = 32 * 1024 * 1024
    SEMANTIC_ENABLED = True
    SEMANTIC_THREADS = 1
    INDEX_CHECK_SECONDS = 5.0
    JSON_LOGS = False
    TESTING = False
    BACKGROUND_JOBS = True


def from_environment() -> dict:
    """Read the settings that the environment overrides."""
    env = os.environ
    out: dict = {}
    if env.get("DATABASE_URL"):
        out["DATABASE_URL"] = env["DATABASE_URL"]
    if env.get("SECRET_KEY"):
        out["SECRET_KEY"] = env["SECRET_KEY"]
    if env.get("APP_ENV"):
        out["ENV"] = env["APP_ENV"]
    if env.get("SEMANTIC_ENABLED"):
        out["SEMANTIC_ENABLED"] = env["SEMANTIC_ENABLED"].lower() in ("1", "true", "yes", "on")
    if env.get("SESSION_COOKIE_SECURE"):
        out["SESSION_COOKIE_SECURE"] = env["SESSION_COOKIE_SECURE"].lower() in ("1", "true")
    if env.get("JSON_LOGS"):
        out["JSON_LOGS"] = env["JSON_LOGS"].lower() in ("1", "true", "yes")
    if env.get("RATELIMIT_STORAGE_URI"):
        out["RATELIMIT_STORAGE_URI"] = env["RATELIMIT_STORAGE_URI"]
    return out

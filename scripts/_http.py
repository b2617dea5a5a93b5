"""What the HTTP benchmark clients share: a scratch database and a signed-in urllib session.

scripts/ is not a package: a script imports this module with scripts/ on ``sys.path`` (the
directory of the script that runs is on it already).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

#: The CSRF token of a page: the login form's hidden field or the shell's meta tag.
CSRF_TOKEN = re.compile(r'name="csrf[-_]token" (?:content|value)="([^"]+)"')


def scratch_database(parser: argparse.ArgumentParser, url: str | None, what: str,
                     filename: str) -> tuple[str, tempfile.TemporaryDirectory]:
    """Return the URL of the database a run may wipe: `url` if its name has 'test', else a
    fresh SQLite file `filename` in a temporary folder (kept alive by the returned object)."""
    tmp = tempfile.TemporaryDirectory()
    if url and "test" not in url.rsplit("/", 1)[-1]:
        parser.error(f"the {what} wipes its database: give a database whose name has 'test'")
    return url or f"sqlite:///{Path(tmp.name) / filename}", tmp


def signed_in(base: str, username: str, password: str,
              timeout: float = 30) -> tuple[urllib.request.OpenerDirector, str | None]:
    """Sign in through the login form; return the cookie session and the home page's CSRF token
    (None when the server sends no token)."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{base}/login", timeout=timeout).read().decode()
    fields = {"username": username, "password": password}
    if token := CSRF_TOKEN.search(page):
        fields["csrf_token"] = token.group(1)
    opener.open(urllib.request.Request(f"{base}/login",
                                       data=urllib.parse.urlencode(fields).encode()),
                timeout=timeout).read()
    home = CSRF_TOKEN.search(opener.open(f"{base}/", timeout=timeout).read().decode())
    return opener, home.group(1) if home else None

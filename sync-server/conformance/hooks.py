"""Schemathesis hooks for the conformance run (scripts/api-conformance.sh).

Authentication: a fresh account is made and logged in, and its access token goes on every
request that needs one. The operations that end a session or an account (log-out, account
deletion) run in a pass of their own that makes a new account every second, so they
cannot leave the rest of the run without valid credentials.
"""

import ast
import json
import os
import threading
import urllib.request
import uuid

import schemathesis

# CPython 3.11's ast.parse keeps its recursion count in state shared by every thread, and two
# threads parsing at once can end in a spurious "SystemError: AST constructor recursion depth
# mismatch" (python/cpython#106905). Hypothesis parses its lambdas' source to describe them,
# from both workers; twice that stopped a whole run with no failed check. One parse at a time.
_parse = ast.parse
_parsing = threading.Lock()


def _one_parse_at_a_time(*args, **kwargs):
    with _parsing:
        return _parse(*args, **kwargs)


ast.parse = _one_parse_at_a_time

BASE = os.environ["ITC_CONFORMANCE_BASE"]
PASSWORD = "conformance-kettle-meadow-58"


def _post(path, body):
    req = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


# One account for a whole run unless ITC_CONFORMANCE_REFRESH says otherwise (the run of the
# session-ending operations asks for a new one every second).
@schemathesis.auth(refresh_interval=int(os.environ.get("ITC_CONFORMANCE_REFRESH", "300")))
class FreshAccount:
    def get(self, case, ctx):
        # The account setup.py made (which owns the capsule and photo the run is pointed
        # at), or a new one each time for the session-ending pass.
        email = os.environ.get("ITC_CONFORMANCE_EMAIL")
        if not email or os.environ.get("ITC_CONFORMANCE_REFRESH"):
            email = f"st-{uuid.uuid4().hex}@example.com"
            _post("/v1/accounts", {"email": email, "password": PASSWORD})
        return _post("/v1/sessions", {"email": email, "password": PASSWORD})["access_token"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"

"""Makes the account, a draft and an uploaded photo the conformance run works on, so its
generated requests reach the server's logic instead of stopping at 404s; prints them as
shell exports. Usage: setup.py BASE_URL"""

import hashlib
import json
import struct
import sys
import urllib.request
import uuid
import zlib

BASE = sys.argv[1]
PASSWORD = "conformance-kettle-meadow-58"


def call(method, path, body=None, token=None, raw=None, headers=None):
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h["content-type"] = "application/json"
    if token:
        h["authorization"] = f"Bearer {token}"
    url = path if path.startswith("http") else BASE + path
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    with urllib.request.urlopen(req, timeout=30) as r:
        out = r.read()
        return json.loads(out) if out else None


def png(w, h):
    rows = b"".join(b"\0" + bytes((x * 7 + y * 3) % 256 for x in range(w * 3)) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


email = f"conformance-{uuid.uuid4().hex}@example.com"
call("POST", "/v1/accounts", {"email": email, "password": PASSWORD})
token = call("POST", "/v1/sessions", {"email": email, "password": PASSWORD})["access_token"]
capsule = str(uuid.uuid4())
call("PUT", f"/v1/capsules/{capsule}", {"title": "Conformance", "note": "n", "time_zone": "UTC",
                                        "recipients": ["friend@example.com"]}, token)
photo = str(uuid.uuid4())
data = png(40, 30)
declared = call("PUT", f"/v1/capsules/{capsule}/photos/{photo}",
                {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                 "content_type": "image/png", "file_name": "c.png"}, token)
up = declared["upload"]
call(up["method"], up["url"], raw=data, headers=up.get("headers") or {})
call("POST", f"/v1/capsules/{capsule}/photos/{photo}/complete", token=token)
print(f"export ITC_CONFORMANCE_EMAIL={email} ITC_CONFORMANCE_CAPSULE={capsule} ITC_CONFORMANCE_PHOTO={photo}")

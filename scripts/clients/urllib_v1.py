"""IMDSv1 the way a plain Python script does it: urllib.request, no token.

Run only inside the test network namespace of scripts/make-captures.sh (fake IMDS). Prints
status codes and body lengths, never bodies (they hold the fake credentials).
"""

import urllib.error
import urllib.request

BASE = "http://169.254.169.254"
ROLE_LIST = "/latest/meta-data/iam/security-credentials/"


def get(path: str) -> bytes:
    try:
        with urllib.request.urlopen(BASE + path, timeout=5) as response:
            body = response.read()
            print(f"GET {path} -> {response.status} ({len(body)} bytes)")
            return body
    except urllib.error.HTTPError as error:
        print(f"GET {path} -> {error.code}")
        return b""


get("/latest/meta-data/instance-id")
get("/latest/meta-data/placement/region")
role = get(ROLE_LIST).decode().strip()
get(ROLE_LIST + role)
get("/latest/dynamic/instance-identity/document")
get("/latest/user-data")
get("/latest/meta-data/no-such-item")

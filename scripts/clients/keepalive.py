"""Many IMDS requests on few connections: keep-alive, pipelining and header edge cases.

Run only inside the test network namespace of scripts/make-captures.sh (fake IMDS). Prints
status codes, never bodies or the token.

1. One http.client connection: token PUT, then GETs with the token (two header spellings),
   without it, with an empty token header, with a longer header name that merely starts with the
   token header's name, and with the header's name in the query string. Only the first two are v2.
2. One raw socket with three requests written at once (HTTP pipelining): v1, v2, v1.
3. One raw HTTP/1.0 request without Host or User-Agent.
"""

import http.client
import socket

HOST = "169.254.169.254"
AGENT = "keepalive-test/1.0"


def main() -> None:
    connection = http.client.HTTPConnection(HOST, 80, timeout=5)

    def request(method: str, path: str, headers: dict[str, str]) -> bytes:
        connection.request(method, path, headers={"User-Agent": AGENT, **headers})
        response = connection.getresponse()
        body = response.read()
        print(f"{method} {path} -> {response.status}")
        return body

    token = request("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "300"}).decode()
    request("GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": token})
    request("GET", "/latest/meta-data/placement/availability-zone", {"x-aws-ec2-metadata-token": token})
    request("GET", "/latest/meta-data/ami-id", {})
    request("GET", "/latest/meta-data/instance-type", {"X-aws-ec2-metadata-token": ""})
    request("GET", "/latest/meta-data/local-ipv4", {"X-aws-ec2-metadata-token-extra": "not-a-token"})
    request("GET", "/latest/meta-data/hostname?X-aws-ec2-metadata-token=in-the-url", {})
    request("GET", "/latest/meta-data/iam/security-credentials/", {"X-aws-ec2-metadata-token": token})
    connection.close()

    pipelined = (
        "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: pipeline-test/1.0\r\n\r\n"
        "GET /latest/meta-data/mac HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: pipeline-test/1.0\r\n"
        f"X-aws-ec2-metadata-token: {token}\r\n\r\n"
        "GET /latest/meta-data/reservation-id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: pipeline-test/1.0\r\n"
        "Connection: close\r\n\r\n"
    )
    print(f"pipelined 3 requests -> {read_all(pipelined).count(b'HTTP/1.1 200')} answered 200")
    reply = read_all("GET /latest/meta-data/security-groups HTTP/1.0\r\n\r\n")
    print(f"HTTP/1.0 request -> {reply.split(b' ', 2)[1].decode()}")


def read_all(request_text: str) -> bytes:
    """Writes the bytes in one send (so they share a segment) and reads until the server closes."""
    with socket.create_connection((HOST, 80), timeout=5) as sock:
        sock.sendall(request_text.encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


main()

"""Small things every module uses: failures, progress lines, shell quoting, HTTP on loopback."""
import http.client
import sys
import time
import urllib.error
import urllib.request

PROGRAM = "bench/compare"


class Failure(Exception):
    """Ends the run: `bench/compare: MESSAGE` on stderr (nothing when the message is None: it
    was printed already), exit status `code` (1 unless told)."""

    def __init__(self, message: str | None, code: int = 1):
        super().__init__(message)
        self.message = message
        self.code = code


class Exit(Exception):
    """Ends the run with `code` after its message was printed (signals: 130, 143)."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def log(message: str) -> None:
    """A progress line on stdout: `[compare HH:MM:SS] message` (UTC)."""
    print(f"[compare {time.strftime('%H:%M:%S', time.gmtime())}] {message}", flush=True)


def warn(message: str) -> None:
    """`bench/compare: message` on stderr (the run goes on)."""
    print(f"{PROGRAM}: {message}", file=sys.stderr, flush=True)


# Characters bash's `printf %q` escapes with a backslash anywhere, and at the start of a word.
_QUOTE_ANYWHERE = set(" \t\n'\"\\|&;()<>!{}*[?]^$`,")
_QUOTE_FIRST = set("~#")
_C_ESCAPES = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
              "\r": "\\r", "\x1b": "\\E", "'": "\\'", "\\": "\\\\"}


def shell_quote(word: str) -> str:
    """`word` quoted as bash's `printf %q` does (commands.log and the command line in meta)."""
    if word == "":
        return "''"
    if any(ord(c) < 32 or ord(c) == 127 for c in word):
        return "$'" + "".join(
            _C_ESCAPES.get(c, f"\\{ord(c):03o}" if ord(c) < 32 or ord(c) == 127 else c)
            for c in word) + "'"
    return "".join("\\" + c if c in _QUOTE_ANYWHERE or (i == 0 and c in _QUOTE_FIRST) else c
                   for i, c in enumerate(word))


def quote_command(args) -> str:
    """A command as `printf '%q ' ARGS` prints it: every word quoted and followed by a space."""
    return "".join(shell_quote(str(a)) + " " for a in args)


def loadavg() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


# Requests go to 127.0.0.1 only: never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_request(url: str, method: str = "GET", data: bytes | None = None,
                 timeout_s: float = 10) -> tuple[int, bytes]:
    """(status, body) of one request; any HTTP status is returned, a transport error (refused,
    timeout, reset) raises OSError."""
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        try:
            return error.code, error.read()
        finally:
            error.close()
    except http.client.HTTPException as error:  # a malformed answer: as a transport error
        raise OSError(f"{url}: {error!r}") from error


def http_ok(url: str, method: str = "GET", data: bytes | None = None,
            timeout_s: float = 10) -> bytes | None:
    """The body of a 2xx answer, None on any error (as `curl -sf` failing)."""
    try:
        status, body = http_request(url, method, data, timeout_s)
    except (OSError, ValueError):
        return None
    return body if 200 <= status < 300 else None

"""Process supervision: every server and tool run is started here and stopped here.

* Servers and tools run with stdin from /dev/null, in their own session (a Ctrl-C at the
  terminal reaches only bench/compare, which then stops them in order).
* Every tool run has a time limit: `timeout -k 10 LIMIT TOOL ...` (exit 124 when it is hit;
  `timeout` also outlives bench/compare, so a tool never runs on unbounded).
* stop() stops exactly the processes given, all started here: SIGTERM, up to 15 s, then SIGKILL,
  and reaps them. stop_all() stops every process not yet reaped (at exit, also after SIGINT or
  SIGTERM, which end the run with 130 and 143).
* Readiness is polled with deadlines (wait_until), free loopback ports come from binding port 0,
  peak RSS is VmHWM of /proc/PID/status.
"""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

from .common import Exit, Failure, PROGRAM, quote_command

STOP_DEADLINE_S = 15
TOOL_KILL_AFTER_S = 10


def is_running(pid: int) -> bool:
    """True while `pid` is a live (non-zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat.rsplit(") ", 1)[-1].split(" ", 1)[0] != "Z"


def status_kb(pid: int, field: str) -> int | None:
    """A `FIELD: N kB` line of /proc/PID/status (VmHWM, VmRSS), or None."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_rss_kb(pid: int) -> int | None:
    return status_kb(pid, "VmHWM")


def current_rss_kb(pid: int) -> int | None:
    return status_kb(pid, "VmRSS")


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (as `pgrep -P PID`), by pid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(") ", 1)[-1].split()
        except OSError:
            continue
        if len(fields) > 1 and fields[1] == str(pid) and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (all bound at once, then released)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_until(condition, timeout_s: float, process=None, interval_s: float = 0.1) -> bool:
    """Polls `condition()` every `interval_s` until it holds (True) or `timeout_s` passed or
    `process` (if given) exited (False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if process is not None and process.poll() is not None:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def tail_lines(path: str, count: int) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return ""
    return b"".join(data.splitlines(keepends=True)[-count:]).decode(errors="replace")


class Supervisor:
    """The processes of one run, each with a label for messages."""

    def __init__(self):
        self.processes: dict[int, tuple[subprocess.Popen, str]] = {}
        self.commands_log: str | None = None  # raw/commands.log, once it exists
        self.cwd: str | None = None
        self._critical = 0
        self._pending_signal = None
        self._signalled = False

    # --- signals -------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum, _frame) -> None:
        if self._critical:  # between starting a process and registering it: later
            self._pending_signal = signum
            return
        self._raise_for(signum)

    def _raise_for(self, signum) -> None:
        if self._signalled:  # the run is ending already: the cleanup is not interrupted
            return
        self._signalled = True
        word, code = ("interrupted", 130) if signum == signal.SIGINT else ("terminated", 143)
        print(f"{PROGRAM}: {word}", file=sys.stderr, flush=True)
        raise Exit(code)

    @contextlib.contextmanager
    def _registering(self):
        """A signal arriving while a process is started is handled once it is registered, so
        that the cleanup knows it."""
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
            if not self._critical and self._pending_signal is not None:
                signum, self._pending_signal = self._pending_signal, None
                self._raise_for(signum)

    @staticmethod
    def ignore_signals() -> None:
        """For the cleanup: finish it even when interrupted again."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    # --- starting ------------------------------------------------------------------------------
    def _log_command(self, line: str) -> None:
        if self.commands_log:
            with open(self.commands_log, "a") as handle:
                handle.write(line + "\n")

    def _spawn(self, label: str, args: list, stdout_path: str, stderr_path: str,
               log_line: str | None) -> subprocess.Popen:
        sys.stdout.flush()
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err, self._registering():
            try:
                process = subprocess.Popen([str(a) for a in args], stdin=subprocess.DEVNULL,
                                           stdout=out, stderr=err, cwd=self.cwd,
                                           start_new_session=True)
            except OSError as error:
                raise Failure(f"could not start {label}: {error}") from None
            self.processes[process.pid] = (process, label)
        if log_line is not None:
            self._log_command(log_line.replace("{pid}", str(process.pid)))
        return process

    def start_server(self, label: str, stdout_path: str, stderr_path: str,
                     args: list) -> subprocess.Popen:
        """Starts a server in the background; commands.log gets `LABEL (pid N): COMMAND`."""
        return self._spawn(label, args, stdout_path, stderr_path,
                           f"{label} (pid {{pid}}): {quote_command(args)}")

    def start_tool(self, label: str, args: list, stdout_path: str,
                   stderr_path: str) -> subprocess.Popen:
        """Starts a tool in the background without a time limit (the caller enforces one);
        commands.log gets `tool: COMMAND`."""
        return self._spawn(label, args, stdout_path, stderr_path, f"tool: {quote_command(args)}")

    def run_tool(self, out_path: str, limit_s: int, args: list) -> int:
        """Runs a measurement tool with a time limit, stdout to OUT and stderr to OUT.err;
        returns its exit status (124: the time limit was hit)."""
        self._log_command(f"tool: {quote_command(args)}")
        command = ["timeout", "-k", str(TOOL_KILL_AFTER_S), str(limit_s), *args]
        process = self._spawn(str(args[0]), command, out_path, out_path + ".err", None)
        process.wait()
        self.processes.pop(process.pid, None)
        return process.returncode

    def run_quiet(self, args: list, timeout_s: float = 60, check: bool = True,
                  stderr_to_terminal: bool = True) -> subprocess.CompletedProcess:
        """A short helper command (certificates, versions) whose stdout is captured."""
        sys.stdout.flush()
        command = quote_command(args)[:-1]
        try:
            result = subprocess.run([str(a) for a in args], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE,
                                    stderr=None if stderr_to_terminal else subprocess.DEVNULL,
                                    cwd=self.cwd, timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise Failure(f"{command} failed: {error}") from None
        if check and result.returncode != 0:
            raise Failure(f"{command} failed (exit {result.returncode})")
        return result

    # --- stopping ------------------------------------------------------------------------------
    def stop(self, *processes: subprocess.Popen) -> None:
        """SIGTERM to each, up to 15 s for all to exit, then SIGKILL to those left; reaps them."""
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_DEADLINE_S
        while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
            time.sleep(0.1)
        for process in processes:
            if process.poll() is None:
                label = self.processes.get(process.pid, (None, f"pid {process.pid}"))[1]
                print(f"{PROGRAM}: {label} did not stop within {STOP_DEADLINE_S} s; SIGKILL",
                      file=sys.stderr, flush=True)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        for process in processes:
            process.wait()
            self.processes.pop(process.pid, None)

    def stop_all(self) -> None:
        if self.processes:
            self.stop(*[process for process, _ in list(self.processes.values())])

    def label(self, process: subprocess.Popen) -> str:
        return self.processes.get(process.pid, (None, f"pid {process.pid}"))[1]


def server_failed(label: str, process: subprocess.Popen, logs: list[str]) -> None:
    """Prints why a server did not come up and the last lines of its logs; raises Failure."""
    if process.poll() is None:
        print(f"{PROGRAM}: {label} (pid {process.pid}) did not become ready in time",
              file=sys.stderr)
    else:
        print(f"{PROGRAM}: {label} (pid {process.pid}) exited during startup", file=sys.stderr)
    for path in logs:
        if os.path.isfile(path) and os.path.getsize(path) > 0:
            print(f"--- last lines of {path}:", file=sys.stderr)
            sys.stderr.write(tail_lines(path, 30))
    sys.stderr.flush()
    raise Failure(None)

"""bench/compare's process supervision with stand-in processes (sleep, python): it stops exactly
what it started (SIGTERM, then SIGKILL), enforces tool time limits, logs every command, and on
SIGINT/SIGTERM stops its processes and exits 130/143. Needs no meridian binary."""
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from comparelib import common, processes  # noqa: E402

IGNORES_SIGTERM = [sys.executable, "-c", "import signal, time\n"
                   "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\n"
                   "time.sleep(60)"]


@pytest.fixture
def supervisor(tmp_path):
    s = processes.Supervisor()
    s.commands_log = str(tmp_path / "commands.log")
    yield s
    s.stop_all()


def test_stop_terminates_and_reaps_exactly_the_processes_given(supervisor, tmp_path):
    first = supervisor.start_server("first", tmp_path / "1.out", tmp_path / "1.err", ["sleep", "60"])
    second = supervisor.start_server("second", tmp_path / "2.out", tmp_path / "2.err", ["sleep", "60"])
    supervisor.stop(first)
    assert first.returncode == -signal.SIGTERM
    assert not processes.is_running(first.pid)
    assert processes.is_running(second.pid)  # not asked for: still running
    assert list(supervisor.processes) == [second.pid]
    supervisor.stop_all()
    assert second.returncode == -signal.SIGTERM and supervisor.processes == {}
    log = (tmp_path / "commands.log").read_text().splitlines()
    assert log == [f"first (pid {first.pid}): sleep 60 ", f"second (pid {second.pid}): sleep 60 "]


def test_stop_kills_what_ignores_sigterm_after_the_deadline(supervisor, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(processes, "STOP_DEADLINE_S", 0.5)
    stubborn = supervisor.start_server("stubborn", tmp_path / "s.out", tmp_path / "s.err", IGNORES_SIGTERM)
    assert processes.wait_until(lambda: (tmp_path / "s.out").read_text() == "up\n", 10)
    start = time.monotonic()
    supervisor.stop(stubborn)
    assert stubborn.returncode == -signal.SIGKILL
    assert 0.4 < time.monotonic() - start < 5
    assert "bench/compare: stubborn did not stop within 0.5 s; SIGKILL" in capsys.readouterr().err


def test_run_tool_time_limit_and_output_files(supervisor, tmp_path):
    out = tmp_path / "tool.txt"
    start = time.monotonic()
    assert supervisor.run_tool(str(out), 1, ["sleep", "30"]) == 124  # timeout's status
    assert time.monotonic() - start < 10
    assert supervisor.run_tool(str(out), 30, ["sh", "-c", "echo out; echo err >&2; exit 3"]) == 3
    assert out.read_text() == "out\n" and (tmp_path / "tool.txt.err").read_text() == "err\n"
    assert supervisor.processes == {}  # tool runs are forgotten once reaped
    assert (tmp_path / "commands.log").read_text() == (
        "tool: sleep 30 \ntool: sh -c echo\\ out\\;\\ echo\\ err\\ \\>\\&2\\;\\ exit\\ 3 \n")


def test_starting_a_missing_command_is_a_failure(supervisor, tmp_path):
    with pytest.raises(common.Failure, match="could not start nothing-here"):
        supervisor.start_server("nothing-here", tmp_path / "o", tmp_path / "e", ["/nonexistent/x"])
    assert supervisor.processes == {}


def test_wait_until_deadline_and_process_exit(tmp_path):
    start = time.monotonic()
    assert not processes.wait_until(lambda: False, 0.3)
    assert 0.3 <= time.monotonic() - start < 3
    exited = subprocess.Popen(["true"])
    start = time.monotonic()
    assert not processes.wait_until(lambda: False, 30, exited)  # gives up when it exits
    assert time.monotonic() - start < 5
    assert processes.wait_until(lambda: True, 0)


def test_is_running_is_false_for_a_zombie():
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while processes.is_running(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes.is_running(child.pid)  # exited, not reaped yet
    child.wait()


def test_peak_rss_and_children():
    assert processes.peak_rss_kb(os.getpid()) > 0
    assert processes.current_rss_kb(os.getpid()) > 0
    assert processes.peak_rss_kb(2**22 + 12345) is None
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert child.pid in processes.children(os.getpid())
    finally:
        child.kill()
        child.wait()


def test_free_ports_are_distinct_and_bindable():
    import socket
    ports = processes.free_ports(6)
    assert len(set(ports)) == 6
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


@pytest.mark.parametrize("signum,code,word", [(signal.SIGINT, 130, "interrupted"),
                                              (signal.SIGTERM, 143, "terminated")])
def test_a_signal_stops_every_process_and_exits(tmp_path, signum, code, word):
    # A stand-in for a run: starts a server and a tool with a time limit, then waits; the
    # signal ends it with the cleanup of main.py's run (stop_all in its finally).
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(BENCH)!r})
        from comparelib import common, processes
        s = processes.Supervisor()
        s.install_signal_handlers()
        code = 0
        try:
            server = s.start_server("server", {str(tmp_path / "o")!r}, {str(tmp_path / "e")!r}, ["sleep", "60"])
            print(server.pid, flush=True)
            s.run_tool({str(tmp_path / "tool")!r}, 60, ["sleep", "60"])
        except common.Exit as exit_:
            code = exit_.code
        finally:
            s.ignore_signals()
            s.stop_all()
        sys.exit(code)
    """))
    run = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    server_pid = int(run.stdout.readline())
    deadline = time.monotonic() + 10
    tool_pids = []
    while not tool_pids and time.monotonic() < deadline:  # timeout and the sleep under it
        tool_pids = [p for p in processes.children(run.pid) if p != server_pid]
        time.sleep(0.05)
    assert tool_pids
    grandchildren = [p for t in tool_pids for p in processes.children(t)]
    run.send_signal(signum)
    _, stderr = run.communicate(timeout=30)
    assert run.returncode == code
    assert stderr == f"bench/compare: {word}\n"
    for pid in [server_pid, *tool_pids, *grandchildren]:
        assert not processes.is_running(pid), pid

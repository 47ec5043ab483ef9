"""The run: arguments, setup, install, checks, the sections round by round with the systems
alternating, the report, and the cleanup that always follows."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import cli, cluster, http_section, memory, parse, resp, results, strong
from .common import PROGRAM, Exit, Failure, log, loadavg, quote_command
from .context import Run
from .install import Installer
from .processes import Supervisor

# The sections that compare two systems, in the order they run within a round:
# (name, Meridian's run, the peer's run, configs.md text).
PAIRED_SECTIONS = [
    ("resp", resp.meridian, resp.redis, resp.configs_md),
    ("http", http_section.meridian, http_section.nginx, http_section.configs_md),
    ("cluster", cluster.meridian_run, cluster.etcd_run, cluster.configs_md),
    ("strong", strong.meridian_run, strong.etcd_run, strong.configs_md),
]

CONFIGS_INTRO = """## Configurations

Every server listens on 127.0.0.1 only, on free ports, with a fresh data directory per section,
system and round; the load generators run on the same machine (they share the cores with the
servers). Odd rounds run Meridian first, even rounds the peer first; tables show medians over
the rounds.
"""

# Server logs kept from the temp dir when a run fails.
FAILED_RUN_LOGS = ("stdout", "stderr", "error.log")
FAILED_RUN_LOG_SUFFIXES = (".stdout", ".stderr")


def round_order(round_: int, meridian, peer) -> tuple:
    """Odd rounds Meridian first, even rounds the peer first."""
    return (meridian, peer) if round_ % 2 == 1 else (peer, meridian)


def usage_error(message: str) -> int:
    print(f"{PROGRAM}: {message}", file=sys.stderr)
    print(f"see {PROGRAM} --help", file=sys.stderr)
    return 2


def output(args: list, stderr_too: bool = False, timeout_s: float = 60) -> str:
    """stdout (and stderr) of a short command, "" when it cannot run."""
    try:
        result = subprocess.run([str(a) for a in args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT if stderr_too else subprocess.DEVNULL,
                                timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.decode(errors="replace")


def check_tools(run: Run) -> None:
    """Every command the chosen sections need, matplotlib, and the meridian binary (built with
    scripts/build release when the default one is missing)."""
    need = ["timeout", "/usr/bin/python3"]
    if run.options.has("resp"):
        need += ["redis-server", "redis-benchmark", "redis-cli"]
    if run.options.has("http"):
        need += ["nginx", "wrk"]
    if run.options.has("cluster") or run.options.has("strong"):
        need += ["etcd"]
    for command in need:
        if shutil.which(command) is None:
            raise Failure(f"'{command}' not found (run without --skip-install, or install it)")
    if subprocess.run(["/usr/bin/python3", "-c", "import matplotlib"], stdin=subprocess.DEVNULL,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        raise Failure("python3-matplotlib is missing (run without --skip-install)")
    if not os.access(run.bin, os.X_OK):
        if run.options.bin_default:
            log(f"no binary at {run.bin}: scripts/build release")
            sys.stdout.flush()
            if subprocess.run(["scripts/build", "release"], cwd=run.repo).returncode != 0:
                raise Failure("scripts/build release failed")
        if not os.access(run.bin, os.X_OK):
            raise Failure(f"no meridian binary at {run.bin}")


def probe_versions(run: Run) -> None:
    """The versions of the systems (and wrk), and whether `serve` has --write-buffer-bytes; a
    meridian binary whose --version fails ends the run before anything is started."""
    meridian_version = run.supervisor.run_quiet([run.bin, "--version"]).stdout.decode(
        errors="replace")
    versions = {"meridian": parse.meridian_version(meridian_version),
                "redis": "", "nginx": "", "etcd": ""}
    if shutil.which("redis-server"):
        versions["redis"] = parse.redis_version(output(["redis-server", "--version"]))
    if shutil.which("nginx"):
        versions["nginx"] = parse.nginx_version(output(["nginx", "-v"], stderr_too=True))
    if shutil.which("etcd"):
        versions["etcd"] = parse.etcd_version(output(["etcd", "--version"]))
    versions["wrk"] = parse.wrk_version(output(["wrk", "-v"], stderr_too=True))
    run.versions = versions
    serve_help = output([run.bin, "serve", "--help"])
    run.write_buffer_flag = "--write-buffer-bytes" in serve_help
    run.shards_flag = "--shards" in serve_help


def machine() -> dict:
    cpu = ""
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            match = re.match(r"model name\s*: (.*)", line)
            if match:
                cpu = match.group(1)
                break
    memory_gib = ""
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                memory_gib = f"{int(line.split()[1]) / 1048576:.1f} GiB"
    return {"kernel": os.uname().release, "nproc": str(len(os.sched_getaffinity(0))), "cpu": cpu,
            "memory": memory_gib}


def write_meta(run: Run, command_line: str) -> None:
    m, v, o = machine(), run.versions, run.options
    results.write_tsv(run.raw_path("meta.tsv"), [
        ("date_utc", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())),
        ("kernel", m["kernel"]), ("nproc", m["nproc"]), ("cpu", m["cpu"]), ("memory", m["memory"]),
        ("loadavg_start", loadavg()),
        ("meridian_version", v["meridian"]), ("meridian_bin", run.bin),
        ("redis_version", v["redis"]), ("nginx_version", v["nginx"]), ("etcd_version", v["etcd"]),
        ("wrk_version", v["wrk"]), ("command", command_line),
        ("duration_s", o.duration), ("rounds", o.rounds), ("sections", o.sections),
        ("cluster_records", run.cluster_records), ("durable_records", run.durable_records),
        ("memory_records", o.memory_records), ("memory_read_seconds", o.memory_read_seconds),
        ("shards", o.shards),
    ])


def run_sections(run: Run) -> None:
    rounds = run.options.rounds
    for round_ in range(1, rounds + 1):
        for name, meridian_run, peer_run, _ in PAIRED_SECTIONS:
            if not run.options.has(name):
                continue
            records = f" ({run.cluster_records} records)" if name in ("cluster", "strong") else ""
            log(f"section {name}, round {round_} of {rounds}{records}")
            for system_run in round_order(round_, meridian_run, peer_run):
                system_run(run, round_)
    if run.options.has("memory"):
        memory.run_section(run)


def report(run: Run) -> None:
    results.write_tsv(run.raw_path("meta.tsv"), [("loadavg_end", loadavg())], mode="a")
    configs = CONFIGS_INTRO + "".join(configs_md(run) for name, _, _, configs_md in PAIRED_SECTIONS
                                      if run.options.has(name))
    if run.options.has("memory"):
        configs += memory.configs_md(run)
    Path(run.raw_path("configs.md")).write_text(configs)
    tables = results.write(Path(run.out))
    plot_note = results.plot(run.repo, Path(run.out))
    print()
    sys.stdout.write(tables)
    print()
    log(f"results: {run.out}/results.md, {run.out}/results.json, {plot_note}")


def keep_failed_run_logs(run: Run) -> None:
    """The servers' logs of a failed run (files of the temp dir at most 3 levels down)."""
    os.makedirs(run.raw_path("servers"), exist_ok=True)
    paths = []
    base_depth = run.work.rstrip("/").count("/")
    for directory, subdirs, files in os.walk(run.work):
        if directory.count("/") - base_depth >= 2:
            subdirs.clear()  # files at depth 3 are listed, nothing below
        for name in files:
            if (name in FAILED_RUN_LOGS or name.endswith(FAILED_RUN_LOG_SUFFIXES)
                    or (name.startswith("apt-") and name.endswith(".log"))):
                paths.append(os.path.join(directory, name))
    run.keep_logs(*paths)


def cleanup(run: Run | None, installer: Installer | None, supervisor: Supervisor, rc: int) -> None:
    """Stops every process still running, removes policy-rc.d if written here, keeps the logs of
    a failed run and removes the temp dir."""
    supervisor.ignore_signals()
    supervisor.stop_all()
    if installer is not None:
        installer.remove_policy_rc()
    if run is not None and run.work and os.path.isdir(run.work):
        if rc != 0 and os.path.isdir(run.raw):
            keep_failed_run_logs(run)
            print(f"{PROGRAM}: failed (exit {rc}); logs in {run.raw}", file=sys.stderr, flush=True)
        shutil.rmtree(run.work, ignore_errors=True)


def logical_cwd() -> str:
    """The working directory as the shell names it ($PWD, symbolic links kept), as bash's
    $PWD."""
    pwd = os.environ.get("PWD", "")
    try:
        if pwd.startswith("/") and os.path.samefile(pwd, "."):
            return pwd
    except OSError:
        pass
    return os.getcwd()


def main(argv: list[str], help_text: str) -> int:
    try:
        return run_main(argv, help_text)
    except Exit as exit_:  # a signal while a failure was being handled (cleanup done)
        return exit_.code


def run_main(argv: list[str], help_text: str) -> int:
    sys.stdout.reconfigure(line_buffering=True)
    cwd = logical_cwd()
    script_dir = os.path.dirname(argv[0]) or "."
    repo = os.path.normpath(os.path.join(cwd, script_dir, ".."))
    try:
        options = cli.parse(argv[1:], cwd, repo)
    except cli.HelpRequested:
        sys.stdout.write(help_text or "")
        return 0
    except cli.UsageError as error:
        return usage_error(str(error))

    command_line = quote_command([argv[0], *argv[1:]])[:-1]
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = options.out or f"{repo}/bench/results/compare-{stamp}"
    os.chdir(repo)
    # etcd also takes its flags from ETCD_* variables: none may leak in from the environment.
    for name in [n for n in os.environ if n.startswith("ETCD_")]:
        del os.environ[name]

    supervisor = Supervisor()
    supervisor.cwd = repo
    supervisor.install_signal_handlers()
    run = installer = None
    rc = 1  # an unexpected exception (a bug): exit 1 after the cleanup, with its traceback
    try:
        run = Run(options=options, repo=repo, out=out, supervisor=supervisor)
        os.makedirs(run.raw, exist_ok=True)
        run.recorder.start()
        supervisor.commands_log = run.raw_path("commands.log")
        run.work = tempfile.mkdtemp(prefix="meridian-compare.", dir="/tmp")
        installer = Installer(run.work)
        if options.skip_install:
            log("install: skipped (--skip-install)")
        else:
            installer.install()
        check_tools(run)
        probe_versions(run)
        write_meta(run, command_line)
        v = run.versions
        log(f"meridian {v['meridian']} ({run.bin}); redis {v['redis'] or '?'}; "
            f"nginx {v['nginx'] or '?'}; etcd {v['etcd'] or '?'}")
        log(f"sections: {options.sections}; duration {options.duration}s; rounds {options.rounds}; "
            f"output {out}; temp {run.work}")
        log(f"load average: {loadavg()}")
        run_sections(run)
        report(run)
        rc = 0
    except Failure as failure:
        rc = failure.code
        if failure.message is not None:
            print(f"{PROGRAM}: {failure.message}", file=sys.stderr, flush=True)
    except Exit as exit_:
        rc = exit_.code
    finally:
        cleanup(run, installer, supervisor, rc)
    return rc

"""bench/compare's command line: the help text, and bad arguments rejected (exit 2, one message,
nothing on stdout) before anything is created, installed or started. A real run installs
packages and takes minutes (docs/benchmarks.md); none is started here. Needs no meridian
binary."""
import pathlib
import shutil
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench"
COMPARE = BENCH / "compare"
sys.path.insert(0, str(BENCH))

from comparelib import cli, common, main  # noqa: E402


def compare(*args, cwd=None):
    """bench/compare (executed directly: its #!/usr/bin/python3 line) with `args`."""
    return subprocess.run([str(COMPARE), *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, stdin=subprocess.DEVNULL)


def test_compare_is_an_executable_python_program():
    assert COMPARE.stat().st_mode & 0o111
    assert COMPARE.read_text().startswith("#!/usr/bin/python3\n")


def test_compare_help_describes_every_section():
    result = compare("--help")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("bench/compare — Meridian side by side with Redis, nginx and etcd")
    for section in ("resp", "http", "cluster", "strong", "memory"):
        assert f"\n  {section} " in result.stdout, section  # the list of sections
        assert f"\n  {section}: " in result.stdout, section  # its configuration
    assert "appendfsync everysec" in result.stdout  # the documented Redis configuration
    assert "Usage: bench/compare [--bin PATH=build/release/meridian]" in result.stdout
    for flag in cli.VALUE_FLAGS + ("--skip-install",):
        assert flag in result.stdout, flag
    # -h is the same, and the help wins over anything after it (arguments are read in order).
    assert compare("-h").stdout == result.stdout
    assert compare("--rounds", "2", "--help", "--bogus").stdout == result.stdout


@pytest.mark.parametrize("args,message", [
    (["--sections", "resp,bogus"], "unknown section 'bogus' in --sections (resp, http, cluster, strong, memory)"),
    (["--sections", ""], "--sections is empty"),
    (["--sections", "resp,,http"], "unknown section '' in --sections (resp, http, cluster, strong, memory)"),
    (["--sections", "RESP"], "unknown section 'RESP' in --sections (resp, http, cluster, strong, memory)"),
    (["--rounds", "0"], "--rounds must be a positive integer, got '0'"),
    (["--duration", "1.5"], "--duration must be a positive integer (seconds), got '1.5'"),
    (["--duration", "-3"], "--duration must be a positive integer (seconds), got '-3'"),
    (["--memory-records", "012"], "--memory-records must be a positive integer, got '012'"),
    (["--memory-read-seconds", "x"], "--memory-read-seconds must be a positive integer (seconds), got 'x'"),
    (["--shards", "0"], "--shards must be a positive integer, got '0'"),
    (["--no-such-flag"], "unknown argument '--no-such-flag'"),
    (["--bogus", "--help"], "unknown argument '--bogus'"),
    (["resp"], "unknown argument 'resp'"),
    (["--bin"], "--bin needs a value"),
    (["--sections", "resp", "--rounds"], "--rounds needs a value"),
])
def test_compare_rejects_bad_arguments_before_starting_anything(tmp_path, args, message):
    # Validation happens before any install, output directory, temp dir or server start:
    # nothing to clean up, nothing on stdout.
    out = tmp_path / "out"
    result = compare("--out", str(out), "--skip-install", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr == f"bench/compare: {message}\nsee bench/compare --help\n"
    assert result.stdout == ""
    assert not out.exists()


def test_parse_defaults():
    options = cli.parse([], "/somewhere", "/repo")
    assert options.bin == "/repo/build/release/meridian" and options.bin_default
    assert options.out == ""  # bench/results/compare-<UTC> is chosen at the start of the run
    assert (options.duration, options.rounds, options.skip_install) == (10, 1, False)
    assert options.sections == "resp,http,cluster,strong"
    assert options.section_list == ("resp", "http", "cluster", "strong")
    assert not options.has("memory")
    assert (options.memory_records, options.memory_read_seconds) == (10000000, 60)
    assert options.shards == 1


def test_parse_values_paths_and_repeats():
    options = cli.parse(["--bin", "b/meridian", "--out", "/abs/out", "--duration", "3",
                         "--duration", "4", "--rounds", "2", "--skip-install", "--sections",
                         "memory,resp", "--memory-records", "20000", "--memory-read-seconds", "5",
                         "--shards", "2"],
                        "/cwd", "/repo")
    assert options.bin == "/cwd/b/meridian" and not options.bin_default  # relative to the cwd
    assert options.out == "/abs/out"
    assert options.duration == 4  # the last one counts
    assert options.rounds == 2 and options.skip_install
    assert options.section_list == ("memory", "resp") and options.has("memory")
    assert options.sections == "memory,resp"
    assert (options.memory_records, options.memory_read_seconds) == (20000, 5)
    assert options.shards == 2
    assert cli.parse(["--out", "rel"], "/cwd", "/repo").out == "/cwd/rel"


SECTION_SPLITS = [
    ("", []), (",", [""]), ("a,", ["a"]), ("a,,", ["a", ""]), (",a", ["", "a"]),
    ("a,,b", ["a", "", "b"]), (" a", [" a"]), ("a b", ["a b"]), ("a\nb", ["a"]),
    ("resp,http", ["resp", "http"]),
]


@pytest.mark.parametrize("text,fields", SECTION_SPLITS)
def test_split_sections_as_bash_read(text, fields):
    assert cli.split_sections(text) == fields


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_split_sections_matches_bash():
    # The bash version split --sections with `IFS=, read -r -a`; the same fields, NUL-separated.
    for text, _ in SECTION_SPLITS:
        bash = subprocess.run(["bash", "-c", 'IFS=, read -r -a a <<<"$1"; for f in "${a[@]}"; '
                               'do printf "%s\\0" "$f"; done', "-", text],
                              capture_output=True, text=True, check=True)
        assert cli.split_sections(text) == bash.stdout.split("\0")[:-1], text


QUOTED_WORDS = ["bench/compare", "resp,http", "", "a b", "a'b", "~x", "a~b", "#x", "a#b",
                "x=y:z", "$HOME", "*", "tab\there", "new\nline", "--save", "'' ", "ü"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_shell_quote_matches_bash_printf_q():
    # commands.log and the command line in results.md quote as `printf '%q '` did.
    bash = subprocess.run(["bash", "-c", 'printf "%q " "$@"', "-", *QUOTED_WORDS],
                          capture_output=True, text=True, check=True,
                          env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"})
    assert common.quote_command(QUOTED_WORDS) == bash.stdout


def test_round_order_alternates():
    assert main.round_order(1, "meridian", "peer") == ("meridian", "peer")
    assert main.round_order(2, "meridian", "peer") == ("peer", "meridian")
    assert main.round_order(3, "meridian", "peer") == ("meridian", "peer")


def test_sections_run_in_the_documented_order():
    assert [name for name, *_ in main.PAIRED_SECTIONS] == ["resp", "http", "cluster", "strong"]
    assert cli.SECTIONS == ("resp", "http", "cluster", "strong", "memory")

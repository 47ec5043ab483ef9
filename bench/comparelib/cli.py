"""The command line: flags, defaults and their validation.

Arguments are read left to right (`-h`/`--help` prints the help at once, an unknown argument or a
flag without its value is an error), then the values are validated. All of it happens before
anything is created, installed or started: a bad argument exits 2 with one message and
"see bench/compare --help" on stderr, and nothing on stdout.
"""
import re
from dataclasses import dataclass

SECTIONS = ("resp", "http", "cluster", "strong", "memory")
DEFAULT_SECTIONS = "resp,http,cluster,strong"
VALUE_FLAGS = ("--bin", "--out", "--duration", "--rounds", "--sections", "--memory-records",
               "--memory-read-seconds", "--shards")


class UsageError(Exception):
    """A bad command line (exit 2)."""


class HelpRequested(Exception):
    """-h or --help (print the help, exit 0)."""


@dataclass(frozen=True)
class Options:
    bin: str                  # absolute path of the meridian binary
    bin_default: bool         # no --bin: build the binary when it is missing
    out: str                  # absolute output directory; "" = bench/results/compare-<UTC>
    duration: int
    rounds: int
    skip_install: bool
    sections: str             # as given (written into meta.tsv)
    section_list: tuple       # the sections named, in the order given
    memory_records: int
    memory_read_seconds: int
    shards: int = 1           # every Meridian node's --shards (resp, http, cluster, strong)

    def has(self, section: str) -> bool:
        return section in self.section_list


def absolute(path: str, cwd: str) -> str:
    """`path` relative to the directory bench/compare was started in."""
    return path if path.startswith("/") else f"{cwd}/{path}"


def positive_int(text: str) -> bool:
    return re.fullmatch(r"[1-9][0-9]*", text) is not None


def split_sections(text: str) -> list[str]:
    """--sections split at commas as `IFS=, read -r -a` does: the first line only, one trailing
    comma ignored, empty fields kept (and rejected by the caller)."""
    text = text.split("\n", 1)[0]
    if text == "":
        return []
    fields = text.split(",")
    if len(fields) > 1 and fields[-1] == "":
        fields.pop()
    return fields


def parse(args: list[str], cwd: str, repo: str) -> Options:
    """Options from the arguments (without the program name); raises UsageError or
    HelpRequested."""
    values = {"--bin": None, "--out": None, "--duration": "10", "--rounds": "1",
              "--sections": DEFAULT_SECTIONS, "--memory-records": "10000000",
              "--memory-read-seconds": "60", "--shards": "1"}
    skip_install = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-h", "--help"):
            raise HelpRequested()
        if arg == "--skip-install":
            skip_install = True
            i += 1
            continue
        if arg not in VALUE_FLAGS:
            raise UsageError(f"unknown argument '{arg}'")
        if i + 1 >= len(args):
            raise UsageError(f"{arg} needs a value")
        values[arg] = args[i + 1]
        i += 2

    duration, rounds = values["--duration"], values["--rounds"]
    records, read_seconds = values["--memory-records"], values["--memory-read-seconds"]
    if not positive_int(duration):
        raise UsageError(f"--duration must be a positive integer (seconds), got '{duration}'")
    if not positive_int(rounds):
        raise UsageError(f"--rounds must be a positive integer, got '{rounds}'")
    if not positive_int(records):
        raise UsageError(f"--memory-records must be a positive integer, got '{records}'")
    if not positive_int(read_seconds):
        raise UsageError(
            f"--memory-read-seconds must be a positive integer (seconds), got '{read_seconds}'")
    shards = values["--shards"]
    if not positive_int(shards):
        raise UsageError(f"--shards must be a positive integer, got '{shards}'")
    section_list = split_sections(values["--sections"])
    if not section_list:
        raise UsageError("--sections is empty")
    for section in section_list:
        if section not in SECTIONS:
            raise UsageError(f"unknown section '{section}' in --sections "
                             "(resp, http, cluster, strong, memory)")

    bin_path = values["--bin"]
    return Options(
        bin=absolute(bin_path, cwd) if bin_path is not None else f"{repo}/build/release/meridian",
        bin_default=bin_path is None,
        out=absolute(values["--out"], cwd) if values["--out"] is not None else "",
        duration=int(duration), rounds=int(rounds), skip_install=skip_install,
        sections=values["--sections"], section_list=tuple(section_list),
        memory_records=int(records), memory_read_seconds=int(read_seconds), shards=int(shards))

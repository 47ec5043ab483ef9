"""One run of bench/compare: its options, directories, process supervisor, recorder, the
versions of the systems and the parameters derived from the options."""
import os
from dataclasses import dataclass, field

from .cli import Options
from .processes import Supervisor, peak_rss_kb
from .results import Recorder

KEEP_LOG_BYTES = 1_000_000   # the last 1 MB of each server log is kept in raw/servers/
BLOCK_CACHE_BYTES = 268435456
WRITE_BUFFER_BYTES = 64 << 20


@dataclass
class Run:
    options: Options
    repo: str
    out: str                 # absolute output directory
    supervisor: Supervisor
    work: str = ""           # the temp dir /tmp/meridian-compare.XXXXXX, once made
    versions: dict = field(default_factory=dict)   # meridian, redis, nginx, etcd, wrk
    write_buffer_flag: bool = False                # `meridian serve` has --write-buffer-bytes
    shards_flag: bool = False                      # `meridian serve` has --shards
    pid: int = field(default_factory=os.getpid)    # names the Meridian clusters and etcd tokens
    recorder: Recorder = field(init=False)

    def __post_init__(self):
        self.recorder = Recorder(self.raw)

    @property
    def raw(self) -> str:
        return os.path.join(self.out, "raw")

    @property
    def bin(self) -> str:
        return self.options.bin

    @property
    def duration(self) -> int:
        return self.options.duration

    @property
    def cluster_records(self) -> int:
        """Records of the cluster and strong sections' load phases: 10,000 per second of
        --duration."""
        return 10000 * self.options.duration

    @property
    def durable_records(self) -> int:
        """Records of the durable and one-client puts: a tenth."""
        return 1000 * self.options.duration

    def raw_path(self, name: str) -> str:
        return os.path.join(self.raw, name)

    def work_dir(self, name: str) -> str:
        return os.path.join(self.work, name)

    def keep_logs(self, *paths: str) -> None:
        """Copies server logs (files under the temp dir) to raw/servers/, named after their path
        under it (e.g. cluster-r1-meridian-node1-stderr), at most the last 1 MB of each."""
        servers = self.raw_path("servers")
        os.makedirs(servers, exist_ok=True)
        for path in paths:
            if not os.path.isfile(path):
                continue
            name = os.path.relpath(path, self.work).replace("/", "-")
            with open(path, "rb") as source:
                source.seek(max(0, os.path.getsize(path) - KEEP_LOG_BYTES))
                data = source.read()
            with open(os.path.join(servers, name), "wb") as target:
                target.write(data)

    def record_rss(self, section: str, system: str, round_: int, process: str, pid: int) -> None:
        """The peak RSS (VmHWM) of a server process, read just before it is stopped."""
        self.recorder.rss(section, system, round_, process, pid, peak_rss_kb(pid))

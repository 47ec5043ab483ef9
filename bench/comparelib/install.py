"""The Debian packages bench/compare needs, installed only when missing.

`apt-get update` runs only when something is missing. While installing, /usr/sbin/policy-rc.d
(`exit 101`) keeps the packages' postinst scripts from starting the system services; it is
written only if absent and removed afterwards, also on failure (remove_policy_rc at exit). A
service the install nevertheless left running (systemd unit active, or a live pid in the
package's pidfile) that was not running before is stopped again.
"""
import os
import re
import subprocess
import sys
import time

from .common import Failure, PROGRAM, log
from .processes import is_running, tail_lines

PACKAGES = ("redis-server", "redis-tools", "etcd-server", "etcd-client", "wrk",
            "python3-matplotlib", "curl", "jq")
NGINX_PACKAGES = ("nginx-light", "nginx", "nginx-full", "nginx-extras")  # any one will do
SERVICES = {"redis-server": "/run/redis/redis-server.pid", "nginx": "/run/nginx.pid",
            "etcd": "/run/etcd.pid"}
POLICY_RC = "/usr/sbin/policy-rc.d"
POLICY_RC_TEXT = ("#!/bin/sh\n# written by bench/compare while installing packages; removed "
                  "afterwards\nexit 101\n")
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def dpkg_status(package: str) -> str:
    result = subprocess.run(["dpkg", "-s", package], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else ""


def installed(package: str) -> bool:
    return re.search(r"(?m)^Status: install ok installed", dpkg_status(package)) is not None


def missing_packages(is_installed=installed) -> tuple[list[str], bool]:
    """(the packages of PACKAGES not installed, whether no nginx package is installed)."""
    return ([p for p in PACKAGES if not is_installed(p)],
            not any(is_installed(p) for p in NGINX_PACKAGES))


def systemd_running() -> bool:
    return os.path.isdir("/run/systemd/system")


def systemd_active(service: str) -> bool:
    return systemd_running() and subprocess.run(
        ["systemctl", "is-active", "--quiet", service], stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def pidfile_pid(service: str) -> int | None:
    try:
        with open(SERVICES[service]) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def services_running() -> set[str]:
    """The system services (redis-server, nginx, etcd) running now: an active systemd unit, or a
    live process named in the package's pidfile."""
    running = set()
    for service in SERVICES:
        pid = pidfile_pid(service)
        if systemd_active(service) or (pid is not None and is_running(pid)):
            running.add(service)
    return running


def stop_service(service: str) -> None:
    """Stops a service that the install started (it was not running before)."""
    print(f"{PROGRAM}: the install started the {service} service; stopping it", file=sys.stderr,
          flush=True)
    if systemd_active(service):
        subprocess.run(["systemctl", "stop", service], stdin=subprocess.DEVNULL)
        return
    pid = pidfile_pid(service)
    if pid is None:
        return
    try:
        os.kill(pid, 15)
    except OSError:
        pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not is_running(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, 9)
    except OSError:
        pass


class Installer:
    def __init__(self, work: str):
        self.work = work
        self.policy_rc_created = False

    def remove_policy_rc(self) -> None:
        """Removes /usr/sbin/policy-rc.d if this run wrote it (also called at exit)."""
        if self.policy_rc_created:
            try:
                os.remove(POLICY_RC)
            except FileNotFoundError:
                pass
            self.policy_rc_created = False

    def _apt(self, args: list[str], log_name: str) -> bool:
        with open(os.path.join(self.work, log_name), "wb") as out:
            return subprocess.run(["apt-get", *args], stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, env=APT_ENV).returncode == 0

    def install(self) -> None:
        missing, need_nginx = missing_packages()
        if not missing and not need_nginx:
            log("install: every package is installed already")
            return
        if os.getuid() != 0:
            names = " ".join(missing + (["nginx-light"] if need_nginx else []))
            raise Failure(f"packages missing ({names}); run as root or install them and use "
                          "--skip-install")
        before = services_running()
        if not os.path.exists(POLICY_RC):
            with open(POLICY_RC, "w") as handle:
                handle.write(POLICY_RC_TEXT)
            os.chmod(POLICY_RC, 0o755)
            self.policy_rc_created = True
        log("install: apt-get update")
        if not self._apt(["update", "-q"], "apt-update.log"):
            sys.stderr.write(tail_lines(os.path.join(self.work, "apt-update.log"), 10**9))
            raise Failure("apt-get update failed")
        if need_nginx:
            has_light = subprocess.run(["apt-cache", "show", "nginx-light"], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
            missing.append("nginx-light" if has_light else "nginx")
        log(f"install: apt-get install -y --no-install-recommends {' '.join(missing)}")
        if not self._apt(["install", "-y", "-q", "--no-install-recommends", *missing],
                         "apt-install.log"):
            sys.stderr.write(tail_lines(os.path.join(self.work, "apt-install.log"), 40))
            raise Failure("apt-get install failed")
        self.remove_policy_rc()
        for service in sorted(services_running() - before):
            stop_service(service)

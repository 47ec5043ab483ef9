"""The Debian package (scripts/package; deploy/package/; docs/deploy.md "Debian package"),
installed for real: `dpkg -i`, then what it put on the machine (user, directories,
permissions, conffile, `systemd-analyze verify` of the unit), then the node run the way its
systemd unit runs it, a put and a get, a clean stop, a reinstall that keeps a changed
conffile, and `dpkg --purge` with what must remain.

Needs root (it installs a package and creates a system user): skipped otherwise. The .deb is
$MERIDIAN_DEB when set, else made here with cpack from the build tree of $MERIDIAN_BIN (its
CPackConfig.cmake; about half a minute: install, strip, dpkg-shlibdeps).

This machine has no systemd as PID 1, so the unit's ExecStart runs under setpriv as its User
and Group, in its WorkingDirectory, with its LimitNOFILE (or the hard limit this process may
not raise, if lower), UMask and Environment; the sandboxing
options (ProtectSystem= and the rest) are checked by `systemd-analyze verify` but not applied.
One flag is added to ExecStart: `--http 127.0.0.1:0`, so that the node does not need port 8080
(which `meridian dev` and other tests use); the ready line says which port it got.

Everything the test installed or created is removed at the end, also after a failure; it
refuses to run (fails) if a meridian package or an unowned /usr/bin/meridian is present, or
/var/lib/meridian holds anything, so as never to overwrite a real installation.
"""
import grp
import os
import pwd
import re
import resource
import selectors
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import meridian_bin

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT = "/lib/systemd/system/meridian.service"
CONFFILE = "/etc/meridian/meridian.toml"
DATA_DIR = "/var/lib/meridian"
READY_DEADLINE_S = 30
STOP_DEADLINE_S = 60

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installs a package: needs root")


def run(command, timeout=300, check=True):
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL,
                            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if check and result.returncode != 0:
        raise AssertionError("%s exited %d\nstdout: %s\nstderr: %s"
                             % (" ".join(command), result.returncode, result.stdout,
                                result.stderr))
    return result


def package_installed():
    result = run(["dpkg-query", "-W", "-f=${Status}", "meridian"], check=False)
    return result.returncode == 0 and "installed" in result.stdout and \
        "not-installed" not in result.stdout


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as cmake:
        return re.search(r"project\(meridian VERSION ([0-9.]+)", cmake.read()).group(1)


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def build_deb(out_dir):
    """The .deb from cpack in the build tree of $MERIDIAN_BIN."""
    tree = os.path.dirname(os.path.realpath(meridian_bin()))
    config = os.path.join(tree, "CPackConfig.cmake")
    if not os.path.exists(config):
        pytest.fail("no %s: configure the build tree with CMake (scripts/build release), or "
                    "set MERIDIAN_DEB to a package made by scripts/package" % config)
    run(["cpack", "--config", config, "-B", out_dir], timeout=600)
    debs = [name for name in os.listdir(out_dir) if re.match(r"meridian_.*\.deb$", name)]
    assert len(debs) == 1, "cpack made %r in %s" % (debs, out_dir)
    return os.path.join(out_dir, debs[0])


@pytest.fixture(scope="module")
def deb():
    path = os.environ.get("MERIDIAN_DEB")
    if path:
        assert os.path.isfile(path), "MERIDIAN_DEB=%s is not a file" % path
        yield path
        return
    out_dir = tempfile.mkdtemp(prefix="meridian-e2e-deb-")
    try:
        yield build_deb(out_dir)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def installed(deb):
    """dpkg -i the package; at the end purge it and remove the user, group and data directory
    if this test created them."""
    if package_installed():
        pytest.fail("a meridian package is already installed: not replacing it")
    if os.path.exists("/usr/bin/meridian"):
        pytest.fail("/usr/bin/meridian exists (not from a package): not overwriting it")
    if os.path.isdir(DATA_DIR) and os.listdir(DATA_DIR):
        pytest.fail("%s holds data: not touching it" % DATA_DIR)
    had_user = user_exists("meridian")
    had_group = group_exists("meridian")
    had_data_dir = os.path.isdir(DATA_DIR)
    try:
        run(["dpkg", "-i", deb])
        yield deb
    finally:
        if package_installed() or os.path.exists("/usr/bin/meridian"):
            run(["dpkg", "--purge", "meridian"], check=False)
        if not had_data_dir:
            shutil.rmtree(DATA_DIR, ignore_errors=True)
        if not had_user and user_exists("meridian"):
            run(["userdel", "meridian"], check=False)
        if not had_group and group_exists("meridian"):
            run(["groupdel", "meridian"], check=False)


def unit_settings(path=UNIT):
    """The [Service] section's settings: name -> list of values (in order)."""
    settings = {}
    section = None
    with open(path) as unit:
        for line in unit:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line
                continue
            name, value = line.split("=", 1)
            settings.setdefault((section, name), []).append(value)
    return {name: values for (section, name), values in settings.items()
            if section == "[Service]"}


def test_package_metadata(deb):
    fields = run(["dpkg-deb", "-f", deb, "Package", "Version", "Depends"]).stdout
    assert "Package: meridian" in fields
    assert "Version: %s" % project_version() in fields
    depends = re.search(r"^Depends: (.*)$", fields, re.M).group(1)
    # Computed by dpkg-shlibdeps from the binary's libraries (RocksDB is linked statically,
    # its compression libraries are not), plus adduser for postinst.
    for library in ("libc6", "libssl3", "libprotobuf", "libzstd"):
        assert library in depends, depends
    assert "adduser" in depends
    contents = run(["dpkg-deb", "-c", deb]).stdout
    for path in ("./usr/bin/meridian", "./lib/systemd/system/meridian.service",
                 "./etc/meridian/meridian.toml", "./usr/share/doc/meridian/deploy.md"):
        assert re.search(r" %s$" % re.escape(path), contents, re.M), contents


def test_installed_files_user_and_permissions(installed):
    assert os.access("/usr/bin/meridian", os.X_OK)
    version = run(["/usr/bin/meridian", "--version"], check=False)
    assert project_version() in version.stdout + version.stderr

    user = pwd.getpwnam("meridian")
    group = grp.getgrnam("meridian")
    assert user.pw_gid == group.gr_gid
    assert user.pw_uid < 1000, "not a system user: uid %d" % user.pw_uid
    assert user.pw_shell in ("/usr/sbin/nologin", "/bin/false")
    assert user.pw_dir == DATA_DIR

    data = os.stat(DATA_DIR)
    assert stat.S_IMODE(data.st_mode) == 0o750
    assert (data.st_uid, data.st_gid) == (user.pw_uid, group.gr_gid)

    config = os.stat(CONFFILE)
    assert stat.S_IMODE(config.st_mode) == 0o640
    assert (config.st_uid, config.st_gid) == (0, group.gr_gid)
    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "meridian"]).stdout
    assert CONFFILE in conffiles, conffiles
    with open(CONFFILE) as conffile:
        text = conffile.read()
    assert 'data_dir = "/var/lib/meridian"' in text
    assert 'http = "127.0.0.1:8080"' in text
    # Safe defaults: nothing but loopback is uncommented.
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert "0.0.0.0" not in line and "insecure" not in line, line


def test_unit_is_hardened_and_verifies(installed):
    result = run(["systemd-analyze", "verify", UNIT], check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "meridian.service" not in result.stdout + result.stderr, result.stderr
    settings = unit_settings()
    expected = {
        "User": "meridian", "Group": "meridian", "Type": "exec", "LimitNOFILE": "65536",
        "NoNewPrivileges": "yes", "ProtectSystem": "strict",
        "ReadWritePaths": DATA_DIR, "ProtectHome": "yes", "PrivateTmp": "yes",
        "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "CapabilityBoundingSet": "",
        "Restart": "on-failure", "WorkingDirectory": DATA_DIR,
    }
    for name, value in expected.items():
        assert settings.get(name, [None])[0] == value, (name, settings.get(name))
    assert "@system-service" in settings["SystemCallFilter"]
    assert int(settings["TimeoutStopSec"][0]) >= 60
    # Every setting lives in the conffile: ExecStart names nothing else.
    assert shlex.split(settings["ExecStart"][0]) == [
        "/usr/bin/meridian", "serve", "--config", CONFFILE]


def read_ready_line(process):
    deadline = time.monotonic() + READY_DEADLINE_S
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    received = b""
    try:
        while b"\n" not in received:
            left = deadline - time.monotonic()
            assert left > 0, "no ready line within %ds: %r" % (READY_DEADLINE_S, received)
            if not selector.select(timeout=left):
                continue
            chunk = os.read(process.stdout.fileno(), 4096)
            assert chunk, "the node exited (%s) before its ready line: %r" % (
                process.poll(), received)
            received += chunk
    finally:
        selector.close()
    return received.split(b"\n", 1)[0].decode()


def open_files_limit(settings):
    """The unit's LimitNOFILE, or this process's hard limit when lower: raising a hard limit
    needs CAP_SYS_RESOURCE, which a container may lack (systemd as PID 1 has it)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = int(settings["LimitNOFILE"][0])
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


def start_like_systemd(settings, log):
    """ExecStart as the unit's User/Group with its WorkingDirectory, LimitNOFILE, UMask and
    Environment (and systemd's default PATH), plus `--http 127.0.0.1:0`. LimitNOFILE: see
    open_files_limit."""
    command = shlex.split(settings["ExecStart"][0]) + ["--http", "127.0.0.1:0"]
    user = pwd.getpwnam(settings["User"][0])
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin",
           "HOME": user.pw_dir, "USER": user.pw_name, "LOGNAME": user.pw_name,
           "SHELL": user.pw_shell}
    for assignment in settings.get("Environment", []):
        for pair in shlex.split(assignment):
            name, value = pair.split("=", 1)
            env[name] = value
    nofile = open_files_limit(settings)
    umask = int(settings.get("UMask", ["0022"])[0], 8)

    def limits():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        os.umask(umask)

    setpriv = ["setpriv", "--reuid", settings["User"][0], "--regid", settings["Group"][0],
               "--init-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all",
               "--"]
    return subprocess.Popen(setpriv + command, cwd=settings["WorkingDirectory"][0], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                            preexec_fn=limits)


def wait_healthy(url, process):
    deadline = time.monotonic() + READY_DEADLINE_S
    session = requests.Session()
    session.trust_env = False
    while True:
        assert process.poll() is None, "the node exited with %s" % process.returncode
        try:
            response = session.get(url + "/health", timeout=2)
            if response.status_code == 200:
                return session
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "no 200 from /health within %ds" % READY_DEADLINE_S
        time.sleep(0.05)


def test_service_runs_as_its_unit_says(installed, tmp_path):
    settings = unit_settings()
    log_path = tmp_path / "meridian.log"
    with open(log_path, "wb") as log:
        process = start_like_systemd(settings, log)
    try:
        line = read_ready_line(process)
        match = re.match(r"meridian ready: http=(127\.0\.0\.1:\d+)", line)
        assert match, line
        url = "http://" + match.group(1)
        session = wait_healthy(url, process)
        key_url = url + "/v1/kv/default/packaged"
        assert session.put(key_url, data=b"from the package", timeout=10).status_code in (200,
                                                                                          204)
        response = session.get(key_url, timeout=10)
        assert response.status_code == 200 and response.content == b"from the package"

        with open("/proc/%d/limits" % process.pid) as limits:
            open_files = [row for row in limits if row.startswith("Max open files")][0]
        nofile = str(open_files_limit(settings))
        assert open_files.split()[3:5] == [nofile, nofile], open_files
        status = open("/proc/%d/status" % process.pid).read()
        uid = pwd.getpwnam("meridian").pw_uid
        assert re.search(r"^Uid:\s+%d\s+%d\s+%d\s+%d$" % ((uid,) * 4), status, re.M), status

        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=STOP_DEADLINE_S)
        assert code == 0, "exit code %d after SIGTERM" % code
    except BaseException:
        print(log_path.read_text(errors="replace"))
        raise
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_DEADLINE_S)
        process.stdout.close()
    # The node made its database in the data directory, as the meridian user.
    db = os.stat(os.path.join(DATA_DIR, "db"))
    assert db.st_uid == pwd.getpwnam("meridian").pw_uid


def test_reinstall_keeps_changed_conffile(installed):
    with open(CONFFILE, "a") as conffile:
        conffile.write("\n# changed by the operator\n")
    run(["dpkg", "-i", installed])
    with open(CONFFILE) as conffile:
        assert conffile.read().endswith("# changed by the operator\n")
    # postinst ran again and changed nothing that existed.
    data = os.stat(DATA_DIR)
    assert stat.S_IMODE(data.st_mode) == 0o750
    assert os.path.exists(os.path.join(DATA_DIR, "db"))


def test_purge_keeps_data_and_user(installed):
    run(["dpkg", "--purge", "meridian"])
    assert not package_installed()
    for gone in ("/usr/bin/meridian", UNIT, CONFFILE, "/etc/meridian"):
        assert not os.path.exists(gone), gone
    # Kept on purge, as docs/deploy.md says: the node's data and its user.
    assert os.path.isdir(os.path.join(DATA_DIR, "db"))
    assert user_exists("meridian") and group_exists("meridian")

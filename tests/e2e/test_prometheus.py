"""The node's /metrics against Prometheus' own checker, and deploy/ (alerting rules, their unit
tests, the example scrape config, the Grafana dashboard) against promtool and a live node:

* `promtool check metrics` finds no problem in a live node's output (naming, units, counter
  suffixes, HELP/TYPE), standalone and in a cluster (the peer listener's metrics);
* `promtool check rules` / `promtool test rules` pass on deploy/prometheus, and every alert has
  a firing and a not-firing unit test;
* the dashboard is valid JSON and every panel expression parses (promtool, as recording rules);
* every meridian_* metric named in the rules, their tests and the dashboard's expressions is
  in the live node's /metrics, so they cannot drift from the code.

promtool comes with Debian's `prometheus` package (scripts/setup installs it); without it the
tests that need it are skipped.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest
import requests

from cluster_util import running_cluster
from conftest import Server

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMETHEUS_DIR = os.path.join(REPO, "deploy", "prometheus")
RULES = os.path.join(PROMETHEUS_DIR, "meridian.rules.yml")
RULE_TESTS = os.path.join(PROMETHEUS_DIR, "meridian.rules.test.yml")
SCRAPE_CONFIG = os.path.join(PROMETHEUS_DIR, "prometheus.yml")
DASHBOARD = os.path.join(REPO, "deploy", "grafana", "meridian-dashboard.json")

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian package `prometheus`; scripts/setup installs it)")

METRIC_NAME = re.compile(r"\bmeridian_[a-z0-9_]+")
# Grafana's variables in the dashboard's expressions, replaced by what Prometheus would see.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "${instance}": ".*",
                     "$instance": ".*"}


def promtool(*args, stdin=None, cwd=None):
    result = subprocess.run([PROMTOOL, *args], input=stdin, capture_output=True, text=True,
                            cwd=cwd, timeout=120)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def live_metrics():
    """The /metrics text of one real node after a few requests of several kinds (so the
    request counters and latency histograms have series)."""
    work_dir = tempfile.mkdtemp(prefix="meridian-e2e-prometheus-")
    server = Server(work_dir, []).start()
    try:
        session = requests.Session()
        session.trust_env = False
        base = server.http_url
        for i in range(5):
            assert session.put("%s/v1/kv/default/k%d" % (base, i), data=b"v%d" % i,
                               timeout=10).status_code == 204
            assert session.get("%s/v1/kv/default/k%d" % (base, i), timeout=10).status_code == 200
        assert session.delete(base + "/v1/kv/default/k0", timeout=10).status_code == 204
        assert session.get(base + "/v1/kv/default/missing", timeout=10).status_code == 404
        assert session.get(base + "/v1/buckets/default", timeout=10).status_code == 200
        assert session.get(base + "/no-such-path", timeout=10).status_code == 404
        assert session.get(base + "/health", timeout=10).status_code == 200
        session.get(base + "/metrics", timeout=10)  # counted in the next scrape
        response = session.get(base + "/metrics", timeout=10)
        assert response.status_code == 200
        yield response.text
    finally:
        code = server.stop()
        if code not in (None, 0):
            print("server exited with %s\n%s" % (code, server.log()))
        shutil.rmtree(work_dir, ignore_errors=True)


def exported_names(text):
    """Metric family names (# TYPE) and sample names (with _bucket, _sum, _count) in `text`."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def dashboard_expressions():
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    expressions = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expressions.append((panel["title"], target["expr"]))
    return dashboard, expressions


def without_grafana_variables(expression):
    for variable, value in GRAFANA_VARIABLES.items():
        expression = expression.replace(variable, value)
    assert "$" not in expression, "unknown Grafana variable in %r" % expression
    return expression


@needs_promtool
def test_live_metrics_pass_promtool_check_metrics(live_metrics):
    assert 'meridian_requests_total{op="put",status="204"} 5' in live_metrics
    assert 'meridian_request_duration_seconds_bucket{op="get",status="200",le="+Inf"} 5' \
        in live_metrics
    code, output = promtool("check", "metrics", stdin=live_metrics)
    assert code == 0 and output.strip() == "", \
        "promtool check metrics (exit %d) found problems:\n%s" % (code, output)


@needs_promtool
def test_clustered_node_metrics_pass_promtool_check_metrics(request):
    """A node of a cluster adds the peer listener's metrics (mutual TLS between the nodes)."""
    with running_cluster(request, "e2e-prometheus-%d" % os.getpid(), ["node1", "node2"], 60,
                         extra_args=["--partition-count", "16"]) as cluster:
        for name in ("node1", "node2"):
            assert cluster[name].put("key-" + name, b"value").status_code == 204
        for name in ("node1", "node2"):
            text = cluster[name].session.get(cluster[name].http_url + "/metrics",
                                             timeout=10).text
            assert "meridian_peer_tls_enabled 1" in text
            assert "meridian_peer_handshakes_completed_total" in text
            code, output = promtool("check", "metrics", stdin=text)
            assert code == 0 and output.strip() == "", \
                "promtool check metrics (exit %d) found problems on %s:\n%s" % (code, name,
                                                                                output)


@needs_promtool
def test_alerting_rules_pass_promtool_check_rules():
    code, output = promtool("check", "rules", RULES)
    assert code == 0, output
    assert "SUCCESS" in output, output


@needs_promtool
def test_alerting_rule_unit_tests_pass():
    code, output = promtool("test", "rules", os.path.basename(RULE_TESTS), cwd=PROMETHEUS_DIR)
    assert code == 0, output
    assert "SUCCESS" in output, output


def test_every_alert_has_a_firing_and_a_quiet_unit_test():
    with open(RULES) as f:
        alerts = re.findall(r"^\s*- alert:\s*(\w+)\s*$", f.read(), re.M)
    assert len(alerts) == len(set(alerts)) and len(alerts) >= 6, alerts
    with open(RULE_TESTS) as f:
        cases = re.split(r"^\s*- eval_time:", f.read(), flags=re.M)[1:]
    firing, quiet = set(), set()
    for case in cases:
        name = re.search(r"^\s*alertname:\s*(\w+)", case, re.M).group(1)
        (quiet if re.search(r"exp_alerts:\s*\[\]", case) else firing).add(name)
    assert set(alerts) - firing == set(), "alerts without a firing test"
    assert set(alerts) - quiet == set(), "alerts without a not-firing test"
    assert (firing | quiet) - set(alerts) == set(), "tests of alerts that do not exist"


@needs_promtool
def test_example_scrape_config_is_valid():
    code, output = promtool("check", "config", os.path.basename(SCRAPE_CONFIG),
                            cwd=PROMETHEUS_DIR)
    assert code == 0, output


@needs_promtool
def test_dashboard_is_valid_and_every_expression_parses(tmp_path):
    dashboard, expressions = dashboard_expressions()
    assert dashboard["schemaVersion"] >= 36
    assert [entry["name"] for entry in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], panel["title"]
    assert len(expressions) >= 9
    # Each expression as a recording rule: promtool parses them all. A JSON string is a valid
    # YAML double-quoted scalar.
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for index, (_, expression) in enumerate(expressions):
        lines.append("      - record: meridian_dashboard:expression_%d" % index)
        lines.append("        expr: " + json.dumps(without_grafana_variables(expression)))
    rules = tmp_path / "dashboard.rules.yml"
    rules.write_text("\n".join(lines) + "\n")
    code, output = promtool("check", "rules", str(rules))
    assert code == 0, output
    assert "SUCCESS: %d rules found" % len(expressions) in output, output


def test_rules_and_dashboard_name_only_exported_metrics(live_metrics):
    exported = exported_names(live_metrics)
    used = {}
    for path in (RULES, RULE_TESTS):
        with open(path) as f:
            for name in METRIC_NAME.findall(f.read()):
                used.setdefault(name, os.path.relpath(path, REPO))
    _, expressions = dashboard_expressions()
    for title, expression in expressions:
        for name in METRIC_NAME.findall(expression):
            used.setdefault(name, "dashboard panel %r" % title)
    assert len(used) >= 15, used
    missing = {name: where for name, where in used.items() if name not in exported}
    assert missing == {}, "metrics named in deploy/ that the node does not export"

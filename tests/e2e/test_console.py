"""The web console (issue 14, item 1) in a real headless browser: Debian's chromium driven by
chromedriver through Selenium, against a real 3-node cluster whose nodes have a users file (an
admin and a readonly user). The page is loaded from node1's /console; what it shows is compared
with what the JSON API answers.

Needs the packages chromium, chromium-driver and python3-selenium (scripts/setup installs
them). Every wait is an explicit WebDriverWait on an element or its text.
MERIDIAN_CONSOLE_SCREENSHOTS=DIR saves screenshots of the page as DIR/console-*.png (docs/images
holds the committed ones).
"""
import os
import subprocess

import pytest
import requests

from cluster_util import Cluster, cluster_settled, finish_clusters, poll
from conftest import meridian_bin

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # the browser fixture fails with what to install
    webdriver = None

NODE_IDS = ["node1", "node2", "node3"]
ZONES = {"node1": "zone-a", "node2": "zone-b", "node3": "zone-a"}
FORM_DEADLINE_S = 60
WAIT_S = 20
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def add_user(users_file, name, role):
    result = subprocess.run([meridian_bin(), "user", "add", "--file", users_file, "--name", name,
                             "--role", role], capture_output=True, text=True, timeout=30,
                            check=True)
    return result.stdout.strip()


@pytest.fixture(scope="module")
def cluster(request, tmp_path_factory):
    """A settled 3-node cluster with --users-file in two zones (ZONES); node sessions send the
    admin token. Yields (cluster, {"admin": token, "reader": token})."""
    users = str(tmp_path_factory.mktemp("console-users") / "users.json")
    tokens = {"admin": add_user(users, "ops", "admin"),
              "reader": add_user(users, "viewer", "readonly")}
    cluster = Cluster("e2e-console", extra_args=["--users-file", users])
    failed = False
    try:
        first = cluster.start_node("node1", extra_args=["--zone", ZONES["node1"]])
        nodes = [first] + [cluster.start_node(name, seeds=[first.peer_address],
                                              extra_args=["--zone", ZONES[name]])
                           for name in NODE_IDS[1:]]
        for node in nodes:
            node.session.headers["Authorization"] = "Bearer " + tokens["admin"]
        poll(cluster_settled(nodes, NODE_IDS), FORM_DEADLINE_S, "3-node cluster forms")
        yield cluster, tokens
    except Exception:
        failed = True
        raise
    finally:
        finish_clusters(request, [cluster], failed=failed)


@pytest.fixture(scope="module")
def browser():
    browser_present = os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)
    if webdriver is None or not browser_present:
        pytest.fail("the console test needs chromium, chromium-driver and python3-selenium "
                    "(scripts/setup installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-proxy-server", "--window-size=1400,1500"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver):
    return WebDriverWait(driver, WAIT_S)


def screenshot(driver, name, element=None):
    directory = os.environ.get("MERIDIAN_CONSOLE_SCREENSHOTS")
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "console-%s.png" % name)
    if element is None:
        driver.save_screenshot(path)
    else:
        driver.execute_script("arguments[0].scrollIntoView();", element)
        element.screenshot(path)


def text_of(driver, selector):
    """The text of the first element matching `selector`, read in one script: the page redraws
    its tables every 2 s, which makes element references go stale between two calls."""
    text = driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
        selector)
    assert text is not None, "no element matches %s" % selector
    return text.strip()


def sign_in(driver, node, token):
    """Opens node's /console in a fresh session: the page asks for a token (the API answers
    401 without one), takes it, and shows the cluster."""
    driver.get(node.http_url + "/console")
    driver.execute_script("sessionStorage.clear()")
    driver.get(node.http_url + "/console")
    assert driver.current_url == node.http_url + "/console/"  # the redirect
    login = wait(driver).until(expected_conditions.visibility_of_element_located((By.ID, "login")))
    assert not driver.find_element(By.ID, "console").is_displayed()
    login.find_element(By.ID, "token-input").send_keys(token)
    login.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver).until(expected_conditions.visibility_of_element_located((By.ID, "console")))
    wait(driver).until(lambda d: count(d, "#members tbody tr") == 3)


def count(driver, selector):
    return driver.execute_script("return document.querySelectorAll(arguments[0]).length;",
                                 selector)


def page_errors(driver):
    """What the browser logged since the last call about a blocked resource (the CSP) or a
    script error. (Failed requests, e.g. the expected 401, are logged too and not counted.)"""
    return [entry["message"] for entry in driver.get_log("browser")
            if "Content Security Policy" in entry["message"] or "Uncaught" in entry["message"]]


def test_members_ring_and_requests_match_the_api(cluster, browser):
    cluster, tokens = cluster
    node = cluster["node1"]
    sign_in(browser, node, tokens["admin"])
    status = node.status()
    ring = node.ring()
    assert sorted(m["id"] for m in status["members"]) == NODE_IDS
    for member in status["members"]:
        row = "#members tr[data-member='%s']" % member["id"]
        wait(browser).until(expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, row + " td.owned"), str(member["partitions_owned"])))
        assert text_of(browser, row + " td.owned") == str(member["partitions_owned"])
        assert text_of(browser, row + " td.status") == member["status"] == "up"
        assert text_of(browser, row + " td.alive") == "yes"
        assert text_of(browser, row + " td.weight") == str(member["weight"])
        assert text_of(browser, row + " td.zone") == member["zone"] == ZONES[member["id"]]
    assert "served by node1" in text_of(browser, "#serving-node")

    arcs = browser.execute_script(
        "return [...document.querySelectorAll('#ring-svg path.arc')]"
        ".map((arc) => [Number(arc.dataset.partition), arc.dataset.owner]);")
    assert len(arcs) == ring["partition_count"] == len(ring["partitions"])
    assert dict(arcs) == {p["partition"]: p["owner"] for p in ring["partitions"]}
    assert count(browser, "#ring-svg path.pending-arc") == 0
    assert count(browser, "#ring-svg path.zone-arc") == ring["partition_count"]
    legend = text_of(browser, "#ring-legend")
    for zone in sorted(set(ZONES.values())):
        assert "zone " + zone in legend, legend
    owned = {m["id"]: m["partitions_owned"] for m in status["members"]}
    assert "node2: %d partitions" % owned["node2"] in legend, legend

    # Request rates come from each member's report: client requests through node1 show in
    # node1's row within a couple of its once-a-second samples.
    for i in range(20):
        response = node.kv("PUT", "console-rate-%d" % i, data=b"x")
        assert response.status_code == 204, response.text

    def node1_rate(driver):
        text = text_of(driver, "#requests tr[data-member='node1'] td.rate")
        return text != "—" and float(text) > 0

    wait(browser).until(node1_rate)
    assert text_of(browser, "#requests tr[data-member='node1'] td:last-child") == "report"
    # The history chart: a line per member once two of its rates were recorded.
    wait(browser).until(lambda d: count(d, "#rate-chart polyline") == len(NODE_IDS))
    assert page_errors(browser) == []
    screenshot(browser, "overview")


def test_object_viewer_shows_siblings_context_and_receipt(cluster, browser):
    cluster, tokens = cluster
    node = cluster["node1"]
    for value in (b"first", b"second"):  # blind writes: two siblings
        response = node.kv("PUT", "console-key", params={"w": "all"}, data=value)
        assert response.status_code == 204, response.text
    sign_in(browser, node, tokens["admin"])
    form = browser.find_element(By.ID, "object-form")
    form.find_element(By.ID, "object-key").send_keys("console-key")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(browser).until(lambda d: count(d, "#object-siblings li") == 2)
    wait(browser).until(expected_conditions.text_to_be_present_in_element(
        (By.ID, "object-location"), "primaries"))
    api = node.kv("GET", "console-key")
    assert api.status_code == 300
    assert text_of(browser, "#object-context") == api.headers["X-Meridian-Context"]
    values = browser.execute_script(
        "return [...document.querySelectorAll('#object-siblings li pre')].map((p) => p.innerText);")
    assert sorted(values) == ["first", "second"]
    assert "2 siblings" in text_of(browser, "#object-status")
    assert text_of(browser, "#receipt-table td[data-field='n']") == "3"
    where = node.get_json("/v1/cluster/locate/default/console-key")
    assert "owner %s" % where["owner"] in text_of(browser, "#object-location")
    screenshot(browser, "object", browser.find_element(By.ID, "object-section"))

    # One value, and a key that does not exist.
    assert node.kv("PUT", "console-single", data=b"only").status_code == 204
    for key, status, values in (("console-single", "200", ["only"]),
                                ("console-missing", "404", [])):
        key_input = browser.find_element(By.ID, "object-key")
        key_input.clear()
        key_input.send_keys(key)
        browser.find_element(By.CSS_SELECTOR, "#object-form button[type=submit]").click()
        wait(browser).until(lambda d: text_of(d, "#object-status").startswith(status))
        assert browser.execute_script(
            "return [...document.querySelectorAll('#object-siblings li pre')]"
            ".map((p) => p.innerText);") == values


def edit_bucket(driver, bucket, property_name, value):
    opener = driver.find_element(By.ID, "bucket-open")
    name = opener.find_element(By.ID, "bucket-name")
    name.clear()
    name.send_keys(bucket)
    opener.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver).until(expected_conditions.text_to_be_present_in_element(
        (By.ID, "bucket-form-name"), bucket))
    field = driver.find_element(By.CSS_SELECTOR, "#bucket-form [name='%s']" % property_name)
    if field.tag_name == "select":
        Select(field).select_by_visible_text(value)
    else:
        field.clear()
        field.send_keys(value)
    driver.find_element(By.CSS_SELECTOR, "#bucket-form button[type=submit]").click()
    wait(driver).until(lambda d: text_of(d, "#bucket-message") != "")
    return text_of(driver, "#bucket-message")


def test_an_admin_edits_a_bucket(cluster, browser):
    cluster, tokens = cluster
    node = cluster["node1"]
    assert node.get_json("/v1/buckets/console-edit")["props"]["r"] == "quorum"
    sign_in(browser, node, tokens["admin"])
    message = edit_bucket(browser, "console-edit", "r", "2")
    assert message.startswith("saved"), message
    assert node.get_json("/v1/buckets/console-edit")["props"]["r"] == 2
    # Every node learns the change by gossip; the table shows what node1 answers.
    wait(browser).until(expected_conditions.text_to_be_present_in_element(
        (By.CSS_SELECTOR, "#buckets tr[data-bucket='console-edit'] td.prop-r"), "2"))
    screenshot(browser, "buckets", browser.find_element(By.ID, "buckets-section"))


def test_the_bucket_table_lists_the_configured_buckets(cluster, browser):
    """Buckets configured elsewhere (through node2) appear without being opened in this tab,
    with the properties GET /v1/buckets answers; "default" (never configured) has the
    defaults."""
    cluster, tokens = cluster
    node1, node2 = cluster["node1"], cluster["node2"]
    made = node2.session.put(node2.http_url + "/v1/buckets/console-listed",
                             json={"conflict_policy": "lww", "n": 2}, timeout=10)
    assert made.status_code == 200, made.text
    poll(lambda: (any(entry["bucket"] == "console-listed"
                      for entry in node1.get_json("/v1/buckets")["buckets"]), "not gossiped"),
         WAIT_S, "node1 lists the bucket configured through node2")
    listed = node1.get_json("/v1/buckets")
    assert all(entry["configured"] for entry in listed["buckets"])
    sign_in(browser, node1, tokens["reader"])
    row = "#buckets tr[data-bucket='console-listed']"
    wait(browser).until(lambda d: count(d, row) == 1)
    assert text_of(browser, row + " td.prop-conflict_policy") == "lww"
    assert text_of(browser, row + " td.prop-n") == "2"
    assert text_of(browser, row + " td.configured") == "yes"
    assert text_of(browser, "#buckets tr[data-bucket='default'] td.configured") == "defaults"
    shown = browser.execute_script(
        "return [...document.querySelectorAll('#buckets tbody tr')].map((r) => r.dataset.bucket);")
    names = [entry["bucket"] for entry in listed["buckets"]]
    assert shown[:len(names)] == names  # the list first, in the API's order
    assert text_of(browser, "#buckets-count") == "%d configured bucket%s" % (
        len(names), "" if len(names) == 1 else "s")


def test_a_readonly_users_edit_is_refused_with_403(cluster, browser):
    cluster, tokens = cluster
    node = cluster["node1"]
    before = node.get_json("/v1/buckets/console-readonly")["props"]
    sign_in(browser, node, tokens["reader"])
    message = edit_bucket(browser, "console-readonly", "conflict_policy", "lww")
    assert "403" in message and "forbidden" in message, message
    assert "needs an admin token" in message
    assert browser.execute_script("return document.getElementById('bucket-message').className;") \
        == "error"
    assert node.get_json("/v1/buckets/console-readonly")["props"] == before
    screenshot(browser, "forbidden", browser.find_element(By.ID, "buckets-section"))


# Member reports in the shape GET /v1/cluster/status gives them (docs/api.md), for a node
# whose status does not carry them yet: the page's fetch is wrapped to add them.
INJECT_REPORTS = """
const original = window.fetch;
window.fetch = async (path, options) => {
  const response = await original(path, options);
  if (!String(path).startsWith("/v1/cluster/status")) return response;
  const body = await response.json();
  body.members.forEach((member, index) => {
    if (member.id === "node3") {  // as if node3 had not answered in time
      delete member.report;
      member.report_missing = "no answer within 1000 ms";
    }
    if (member.id !== "node2") return;
    member.report = {
      disk: {used_bytes: 1073741824, capacity_bytes: 8589934592, available_bytes: 4294967296},
      hints: {pending: 5, bytes: 2048},
      transfers: [{partition: 7, kind: "ownership", peer: "node3", bytes_done: 250,
                   bytes_total: 1000, objects_done: 12, bytes_per_second: 100.0,
                   eta_seconds: 7.5}],
      anti_entropy: {exchanges: 40, exchanges_failed: 1, keys_repaired: 3},
      requests: {window_seconds: 60, per_second: 12.5, errors_per_second: 0.25, p50_ms: 1.5,
                 p99_ms: 9.75},
    };
  });
  return new Response(JSON.stringify(body), {status: response.status,
                                             headers: response.headers});
};
"""

# Partition 0 shown as moving to node3, in the ring the page receives.
INJECT_PENDING_MOVE = """
const unwrapped = window.fetch;
window.fetch = async (path, options) => {
  const response = await unwrapped(path, options);
  if (!String(path).startsWith("/v1/cluster/ring")) return response;
  const body = await response.json();
  body.partitions[0].pending_owner = "node3";
  return new Response(JSON.stringify(body), {status: response.status,
                                             headers: response.headers});
};
"""


def test_member_reports_show_disk_hints_transfers_and_requests(cluster, browser):
    cluster, tokens = cluster
    sign_in(browser, cluster["node1"], tokens["admin"])
    browser.execute_script(INJECT_REPORTS)
    browser.execute_script(INJECT_PENDING_MOVE)
    node2 = "tr[data-member='node2']"
    wait(browser).until(lambda d: text_of(d, "#activity %s td.hints-pending" % node2) == "5")
    assert text_of(browser, "#members %s td.disk-used" % node2) == "1.0 GiB"
    assert text_of(browser, "#requests %s td.rate" % node2) == "12.5"
    assert text_of(browser, "#requests %s td:last-child" % node2) == "report"
    assert count(browser, "#transfers progress") == 1
    bar = browser.execute_script(
        "const bar = document.querySelector('#transfers progress'); return [bar.value, bar.max];")
    assert bar == [250, 1000]
    transfer = text_of(browser, "#transfers .transfer")
    assert "partition 7 (ownership) node2 → node3" in transfer, transfer
    assert "ETA 8 s" in transfer, transfer
    # node3 sent no report: dashes, not zeros.
    assert text_of(browser, "#activity tr[data-member='node3'] td.hints-pending") == "—"
    # The history chart draws a line per node with at least two points.
    wait(browser).until(lambda d: count(d, "#rate-chart polyline") >= 2)
    assert count(browser, "#ring-svg path.pending-arc") == 1
    assert "1 moving" in text_of(browser, "#ring-summary")
    assert page_errors(browser) == []
    screenshot(browser, "reports", browser.find_element(By.ID, "activity-section"))


def test_without_a_users_file_no_token_is_asked(start_server, browser):
    server = start_server()  # standalone, no --users-file
    browser.get(server.http_url + "/console/")
    browser.execute_script("sessionStorage.clear()")
    browser.get(server.http_url + "/console/")
    wait(browser).until(expected_conditions.visibility_of_element_located((By.ID, "console")))
    wait(browser).until(lambda d: count(d, "#members tbody tr") == 1)
    assert not browser.find_element(By.ID, "login").is_displayed()
    assert not browser.find_element(By.ID, "logout").is_displayed()  # no token to forget
    session = requests.Session()
    session.trust_env = False
    status = session.get(server.http_url + "/v1/cluster/status", timeout=10).json()
    only = status["members"][0]
    assert text_of(browser, "#members tr[data-member='%s'] td.owned" % only["id"]) \
        == str(only["partitions_owned"]) == str(status["partition_count"])
    assert page_errors(browser) == []


def test_rates_and_percentiles_from_metrics_follow_prometheus(start_server, browser):
    """The page's own arithmetic on /metrics text, run in the browser on made-up scrapes:
    counters summed over labels, and quantiles interpolated within a histogram bucket as
    Prometheus' histogram_quantile does."""
    server = start_server()
    browser.get(server.http_url + "/console/")
    wait(browser).until(expected_conditions.visibility_of_element_located((By.ID, "console")))
    before = ('meridian_requests_total{op="get",status="200"} 10\n'
              'meridian_request_duration_seconds_bucket{op="get",status="200",le="0.001"} 10\n'
              'meridian_request_duration_seconds_bucket{op="get",status="200",le="0.01"} 10\n'
              'meridian_request_duration_seconds_bucket{op="get",status="200",le="+Inf"} 10\n')
    after = ('# TYPE meridian_requests_total counter\n'
             'meridian_requests_total{op="get",status="200"} 90\n'
             'meridian_requests_total{op="put",status="503"} 20\n'
             'meridian_request_duration_seconds_bucket{op="get",status="200",le="0.001"} 60\n'
             'meridian_request_duration_seconds_bucket{op="get",status="200",le="0.01"} 90\n'
             'meridian_request_duration_seconds_bucket{op="get",status="200",le="+Inf"} 90\n'
             'meridian_request_duration_seconds_bucket{op="put",status="503",le="0.001"} 0\n'
             'meridian_request_duration_seconds_bucket{op="put",status="503",le="0.01"} 20\n'
             'meridian_request_duration_seconds_bucket{op="put",status="503",le="+Inf"} 20\n')
    result = browser.execute_script("""
        const before = requestTotals(parseMetrics(arguments[0]));
        const after = requestTotals(parseMetrics(arguments[1]));
        return [after.count - before.count, after.errors - before.errors,
                quantileMs(before, after, 0.5), quantileMs(before, after, 0.99),
                quantileMs(after, after, 0.5)];
    """, before, after)
    # 100 requests in between: 50 within 1 ms, 50 within 1..10 ms; 20 of them 503s.
    assert result[0] == 100 and result[1] == 20
    assert result[2] == pytest.approx(1.0)  # rank 50 of 50 in the first bucket: its bound
    assert result[3] == pytest.approx(1.0 + 9.0 * (99 - 50) / (100 - 50))
    assert result[4] is None  # no requests: no percentile

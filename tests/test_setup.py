"""The setup form, its connection test, and the deploy package."""

from __future__ import annotations

import dataclasses
import re
import socket
import zipfile
from pathlib import Path

import pytest

import connector
from dexory_async.config import Settings
from dexory_simulator import FaultPlan, SimulatorConfig, SiteSpec, serve_in_thread
from tests.conftest import TEST_KEY, configuration_for
from tools.fivetran_cli import run_cli, stage_project, write_configuration
from tools.package import build_package


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_form_offers_every_setting_with_the_key_masked() -> None:
    form = connector.configuration_form().to_response()
    fields = {field.name: field for field in form.fields}
    settings = [setting.name for setting in dataclasses.fields(Settings) if setting.name != "sites"]
    assert list(fields) == ["site_name", "site_api_key", *settings]  # every setting, in order
    assert fields["site_api_key"].text_field == 1  # password: masked in the UI, encrypted at rest
    assert fields["site_name"].required and fields["site_api_key"].required
    assert all(field.description for field in form.fields)
    assert fields["page_size"].placeholder == "1000"
    assert [test.name for test in form.tests] == ["connection_test"]


def test_connection_test_succeeds() -> None:
    with serve_in_thread(SimulatorConfig(locations=10, api_key=TEST_KEY)) as simulator:
        assert connector.connection_test(configuration_for(simulator)).success
        assert [record.query.get("page[size]") for record in simulator.requests] == ["1"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"site_api_key": "wrong-key"}, "the API key was rejected for site 'demo-site' (HTTP 401)"),
        ({"site_name": "no-such-site"}, "site 'no-such-site' not found (HTTP 404)"),
        ({"page_size": "0"}, "page_size must be an integer from 1 to 10000, got '0'"),
    ],
)
def test_connection_test_names_the_problem(change: dict[str, str], expected: str) -> None:
    with serve_in_thread(SimulatorConfig(locations=10)) as simulator:
        result = connector.connection_test({**configuration_for(simulator), **change})
    assert result.failure is not None and expected in result.failure


def test_connection_test_accepts_a_base_url_pasted_with_the_api_path() -> None:
    with serve_in_thread(SimulatorConfig(locations=10, api_key=TEST_KEY)) as simulator:
        pasted = f"{simulator.base_url}/customer-api/v1/"
        result = connector.connection_test(configuration_for(simulator, base_url=pasted))
        paths = [record.path for record in simulator.requests]
    assert result.success, result.failure
    assert paths == ["/customer-api/v1/locations"]


def test_connection_test_with_every_site_unknown_shows_the_url_and_points_at_base_url() -> None:
    config = SimulatorConfig(locations=10, api_key=TEST_KEY, extra_sites=(SiteSpec("north", "key-north", 10, 2),))
    with serve_in_thread(config) as simulator:
        configuration = configuration_for(simulator, sites=["demo-site", "north"], base_url=f"{simulator.base_url}/v2")
        result = connector.connection_test(configuration)
    assert result.failure is not None
    *sites, hint = result.failure.splitlines()
    assert len(sites) == 2 and all("not found (HTTP 404)" in line for line in sites)
    assert hint.startswith(
        f"every site answered 404 for its first page, e.g. {simulator.base_url}/v2/customer-api/v1/locations?"
        "site=demo-site&page%5Bsize%5D=1: check base_url before site_name"  # the URL requested, without its key
    )
    assert TEST_KEY not in result.failure


def test_connection_test_names_every_failing_site_and_only_those() -> None:
    config = SimulatorConfig(
        locations=10,
        api_key=TEST_KEY,
        extra_sites=(SiteSpec("north", "key-north", 10, 2), SiteSpec("south", "key-south", 10, 3)),
    )
    with serve_in_thread(config) as simulator:
        configuration = configuration_for(simulator, sites=["demo-site", "north", "south"])
        configuration["site_api_key"] = f"{TEST_KEY},key-north,not-south-s-key"
        result = connector.connection_test(configuration)
        asked = sorted(record.site or "" for record in simulator.requests)
    assert asked == ["demo-site", "north", "south"]  # one request per site
    assert result.failure.splitlines() == [
        "site 'south': the API key was rejected for site 'south' (HTTP 401): check site_api_key",
        "site_api_key pairs keys with site names by position (the first key with the first site of site_name, "
        "and so on): check that the keys are in the same order as the sites",
    ]
    assert TEST_KEY not in result.failure


def test_connection_test_reports_an_unreachable_host() -> None:
    port = unused_port()
    result = connector.connection_test(
        {"site_name": "s", "site_api_key": TEST_KEY, "base_url": f"http://127.0.0.1:{port}"}
    )
    assert result.failure is not None
    assert (
        f"site 's': could not reach the Dexory API at http://127.0.0.1:{port}: ClientConnectorError" in result.failure
    )
    assert TEST_KEY not in result.failure


def test_connection_test_reports_a_timeout() -> None:
    config = SimulatorConfig(locations=10, api_key=TEST_KEY, faults=FaultPlan.parse(["1:stall=5@*"]))
    with serve_in_thread(config) as simulator:
        result = connector.connection_test(configuration_for(simulator, request_timeout_seconds="0.3"))
    assert result.failure is not None and "no answer within 0.3s" in result.failure
    assert TEST_KEY not in result.failure


def test_sdk_setup_test_command_against_the_simulator(tmp_path: Path, home: Path) -> None:
    """`fivetran configuration --test`, the SDK's own way to run the form's tests locally."""
    project = stage_project(tmp_path / "project")
    with serve_in_thread(SimulatorConfig(locations=10, api_key=TEST_KEY)) as simulator:
        write_configuration(project, configuration_for(simulator, pagesize="10"))
        passed = run_cli(["configuration", str(project), "--test"], home=home, timeout=120)
        write_configuration(project, configuration_for(simulator, site_api_key="wrong-key"))
        failed = run_cli(["configuration", str(project), "--test"], home=home, timeout=120)
    assert passed.returncode == 0 and "All tests passed!" in passed.stdout, passed.stdout
    warning = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} WARNING .*ignoring unknown configuration key 'pagesize'$", re.M)
    assert warning.search(passed.stdout), passed.stdout  # in the SDK's log format, like every other line
    assert failed.returncode == 1 and "the API key was rejected for site 'demo-site'" in failed.stdout
    assert TEST_KEY not in passed.stdout + failed.stdout


def test_package_holds_only_the_runtime(tmp_path: Path) -> None:
    with zipfile.ZipFile(build_package(tmp_path)) as archive:  # its own HOME under tmp_path, as `make package`
        names = set(archive.namelist())
    assert {
        "connector.py",
        "pyproject.toml",
        "configuration_form.pb",
        "dexory_async/__init__.py",
        "dexory_async/client.py",
        "dexory_async/flatten.py",
        "dexory_async/bridge.py",
    } <= names
    forbidden = ("tests/", "dexory_simulator/", "configuration.json", ".venv/", "files/", "tools/", "build/")
    assert not [name for name in names if name.startswith(forbidden) or name.endswith(".pyc")]

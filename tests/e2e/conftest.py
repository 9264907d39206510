"""Fixtures of the JupyterHub end-to-end test: a local hub and a headless Chromium.

The hub is started by ``deploy/jupyterhub/launch.py`` in a fresh state folder
and purged afterwards (its Unix users too). The browser is Debian's chromium
driven by Playwright, with a fresh profile per context.

Prerequisites: root, ``configurable-http-proxy`` and ``chromium`` (run
``deploy/install-system-deps.sh``; ``python3 dev.py test`` does it as root).
When one is missing the test fails, except under ``python3 dev.py test`` run
by a user who is not root: dev.py sets ``DINO_SKIP_E2E`` and the test is
skipped with that reason (pytest's summary and dev.py's last line show it).
"""

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from coursetools.settings import ASSIGNMENTS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    # *.localhost is loopback in Chromium anyway; say so for any resolver.
    "--host-resolver-rules=MAP *.localhost 127.0.0.1",
]


def _load_launcher():
    spec = importlib.util.spec_from_file_location(
        "dino_hub_launch", ROOT / "deploy" / "jupyterhub" / "launch.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


launch = _load_launcher()


def chromium_path():
    """Debian's chromium binary, or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _missing_prerequisites():
    missing = launch.check_prerequisites()
    if chromium_path() is None:
        missing.append("chromium not on PATH (apt-get install chromium chromium-driver)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package is not installed")
    return missing


@pytest.fixture(scope="session")
def artifacts():
    """Folder for screenshots and logs of the run (gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()  # no screenshot of an earlier run may pass for this one
    return ARTIFACTS


@pytest.fixture(scope="session")
def hub(artifacts):
    """A running local hub (``launch.HubInfo``), stopped and purged afterwards."""
    if os.environ.get("DINO_SKIP_E2E"):  # set by dev.py when not root: said once, shown in the summary
        pytest.skip(os.environ["DINO_SKIP_E2E"])
    missing = _missing_prerequisites()
    if missing:
        reason = "JupyterHub e2e prerequisites missing: " + "; ".join(missing)
        pytest.fail(reason + " (run `sudo bash deploy/install-system-deps.sh`; `python3 dev.py test` "
                    "does it when run as root)", pytrace=False)
    state_dir = Path(tempfile.mkdtemp(prefix="dino-hub-e2e-"))
    try:
        info = launch.start(state_dir, assignments=list(ASSIGNMENTS))  # the optional ones too
    except launch.LaunchError as e:
        _keep_log(state_dir, artifacts)
        if (state_dir / "launcher.json").exists():
            launch.stop(state_dir, purge=True)
        pytest.fail(f"could not start the hub: {e}", pytrace=False)
    try:
        yield info
    finally:
        _keep_log(state_dir, artifacts)
        launch.stop(state_dir, purge=True)


def _keep_log(state_dir, artifacts):
    log = Path(state_dir) / "hub" / "jupyterhub.log"
    if log.exists():
        shutil.copy(log, artifacts / "jupyterhub.log")


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium under Playwright.

    Module scope, not session: Playwright's sync API keeps an asyncio loop marked running in the
    main thread until it stops, and every later test of the run that calls ``asyncio.run`` would fail.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, save a screenshot of every page the test still has open."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        pages = getattr(item.module, "OPEN_PAGES", {})
        for name, page in pages.items():
            try:
                if not page.is_closed():
                    page.screenshot(path=str(ARTIFACTS / f"FAILED-{item.name}-{name}.png"))
            except Exception:  # a screenshot must not hide the real failure
                pass

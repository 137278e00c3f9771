"""Headless Chromium for the browser tests and the screenshot script: Debian's ``chromium`` and
``chromium-driver`` driven by Selenium, and axe-core (``npm pack axe-core``, cached) to check pages."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE_VERSION = "4.14.1"
DESKTOP_WIDTH = 1280
PHONE_WIDTH = 390
HEIGHT = 900
#: Faults that fail a page: axe-core's two highest impacts (missing labels, alt text, low contrast...).
FAILING_IMPACTS = ("serious", "critical")


def chromium(width: int = DESKTOP_WIDTH, height: int = HEIGHT, javascript: bool = True) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    set_viewport(driver, width, height)
    return driver


def set_viewport(driver: webdriver.Chrome, width: int, height: int = HEIGHT) -> None:
    """Emulate a viewport of ``width`` CSS pixels (a window cannot be narrower than 500 px); below
    600 px as a phone (touch, mobile viewport)."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def axe_source(cache_dir: Path) -> str:
    """axe-core's ``axe.min.js`` (MPL-2.0), fetched once with ``npm pack`` into ``cache_dir``."""
    script = cache_dir / f"axe-core-{AXE_VERSION}" / "package" / "axe.min.js"
    if not script.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", str(cache_dir)],
            check=True,
            capture_output=True,
        )
        with tarfile.open(cache_dir / f"axe-core-{AXE_VERSION}.tgz") as archive:
            archive.extract("package/axe.min.js", script.parent.parent, filter="data")
    return script.read_text(encoding="utf-8")


def axe_violations(driver: webdriver.Chrome, axe: str) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the current page (WCAG 2 A and AA rules)."""
    driver.execute_script(axe)
    result = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];
        axe.run(document, {runOnly: {type: 'tag', values: tags}})
           .then(r => done(JSON.stringify(r.violations)), e => done(JSON.stringify({error: String(e)})));
        """
    )
    violations = json.loads(result)
    if isinstance(violations, dict):
        raise RuntimeError(f"axe-core failed: {violations['error']}")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations
        if v["impact"] in FAILING_IMPACTS
    ]

"""Screenshots of every page of the web app at desktop (1280 px) and phone (390 px) width, into
docs/screenshots/, from a running app (after `make demo`, with `make web` in another terminal):

    .venv/bin/python scripts/screenshots.py [--url http://127.0.0.1:8080] [--out docs/screenshots]

It signs in as a seed viewer (``ml100k:1``) for the personal pages and as a new viewer for onboarding
(whose picks are rated 9/10 through the app, like any viewer's), and checks each page with axe-core.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.browser import (
    DESKTOP_WIDTH,
    PHONE_WIDTH,
    axe_source,
    axe_violations,
    chromium,
    set_viewport,
)

SEED_VIEWER = "ml100k:1"
#: The tallest screenshot; longer pages are cut here.
MAX_HEIGHT = 2400


def shoot(driver: webdriver.Chrome, width: int, path: Path) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    set_viewport(driver, width, min(int(height), MAX_HEIGHT))
    time.sleep(0.2)
    driver.save_screenshot(str(path))


def sign_in(driver: webdriver.Chrome, url: str, name: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{url}/signin")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()


def pages(url: str, new_viewer: str) -> list[tuple[str, Callable[[webdriver.Chrome], None]]]:
    def film(driver: webdriver.Chrome) -> None:
        driver.get(f"{url}/search?q=heat")
        driver.find_element(By.CSS_SELECTOR, ".card-title a").click()

    def onboarding_ready(driver: webdriver.Chrome) -> None:
        sign_in(driver, url, new_viewer)
        driver.get(f"{url}/onboarding")
        for box in driver.find_elements(By.CSS_SELECTOR, ".picks input[type=checkbox]")[::4][:4]:
            driver.find_element(By.CSS_SELECTOR, f"label[for='{box.get_attribute('id')}']").click()
        driver.find_element(By.CSS_SELECTOR, "form.onboarding button[type=submit]").click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:  # the page reloads itself until the list is personal
                source = driver.find_element(By.CSS_SELECTOR, ".source").get_attribute("data-source")
            except WebDriverException:
                source = None
            if source in ("personal", "overlay"):
                return
            time.sleep(0.5)

    def home_anonymous(driver: webdriver.Chrome) -> None:
        driver.delete_all_cookies()
        driver.get(f"{url}/")

    def home_signed_in(driver: webdriver.Chrome) -> None:
        sign_in(driver, url, SEED_VIEWER)
        driver.get(f"{url}/")

    def onboarding(driver: webdriver.Chrome) -> None:
        sign_in(driver, url, new_viewer)
        driver.get(f"{url}/onboarding")

    def at(path: str) -> Callable[[webdriver.Chrome], None]:
        return lambda driver: driver.get(url + path)

    return [
        ("home-anonymous", home_anonymous),
        ("search", at(f"/search?q={quote('star')}")),
        ("signin", at("/signin")),
        ("home-signed-in", home_signed_in),
        ("film", film),
        ("my-ratings", at("/my/ratings")),
        ("onboarding", onboarding),
        ("onboarding-ready", onboarding_ready),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--cache", type=Path, default=Path("data/cache/npm"), help="where axe-core is kept")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    axe = axe_source(args.cache)
    faults = 0
    for label, width in (("desktop", DESKTOP_WIDTH), ("phone", PHONE_WIDTH)):
        driver = chromium(width)
        try:
            for name, open_page in pages(args.url, f"newcomer-{secrets.token_hex(2)}"):
                set_viewport(driver, width)
                open_page(driver)
                violations = axe_violations(driver, axe)
                faults += len(violations)
                shoot(driver, width, args.out / f"{name}-{label}.png")
                print(f"{name}-{label}.png  {driver.current_url}  axe serious/critical: {violations or 'none'}")
        finally:
            driver.quit()
    sys.exit(1 if faults else 0)


if __name__ == "__main__":
    main()

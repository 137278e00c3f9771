"""The web app in a real browser (headless Chromium, Selenium) over the real services on the embedded
default: a small engine is trained and published, the online updater folds ratings in, and the
Recommendations API, the Movies API and the web app serve on free ports. Every page visited is checked
with axe-core: no serious or critical violation (labels, alt text, contrast, ...)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from starlette.types import ASGIApp, Receive, Scope, Send

from movies_api.bootstrap import create_app as create_movies_app
from movies_api.settings import MoviesApiSettings
from recommendations_api.bootstrap import create_app as create_recommendations_app
from recommendations_api.settings import ApiSettings
from recsys_common.settings import CommonSettings
from tests.browser import axe_source, axe_violations, chromium
from tests.engines import trained_embedded_default
from tests.servers import serve_in_thread
from web_app.auth import SignIn
from web_app.bootstrap import create_app as create_web_app
from web_app.settings import WebSettings

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

SECRET = "browser-secret-of-at-least-thirty-two-bytes"
#: The updater polls every 0.1 s, the API re-resolves the version every 0.1 s; generous for a busy CI.
CHANGE_TIMEOUT_S = 15.0
WAIT_S = 10.0


#: Movies API routes answered from the recommendations side: a page may call one of them once.
RECOMMENDATION_PATHS = ("/home", "/recommendations", "/similar")


class Recorder:
    """ASGI wrapper of the Movies API that records the paths it is asked for."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)

    def recommendation_calls(self) -> list[str]:
        return [p for p in self.paths if p.endswith(RECOMMENDATION_PATHS)]


@dataclass(frozen=True)
class Site:
    url: str
    axe: str
    movies_api: Recorder
    movies_url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("web")
    axe = axe_source(CommonSettings().cache_dir / "npm")
    with trained_embedded_default(data, "web"):
        recommendations = create_recommendations_app(ApiSettings(data_dir=data, current_refresh_ms=100))
        with serve_in_thread(recommendations, lifespan="on") as recommendations_url:
            movie_settings = MoviesApiSettings(
                data_dir=data, jwt_secret=SECRET, recommendations_api_url=recommendations_url
            )
            recorder = Recorder(create_movies_app(movie_settings))
            with serve_in_thread(recorder, lifespan="on") as movies_url:
                web = create_web_app(WebSettings(web_movies_api_url=movies_url, jwt_secret=SECRET))
                with serve_in_thread(web, lifespan="on") as url:
                    yield Site(url, axe, recorder, movies_url)


@pytest.fixture(scope="module")
def driver() -> Iterator[webdriver.Chrome]:
    browser = chromium()
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def browser(driver: webdriver.Chrome) -> webdriver.Chrome:
    driver.delete_all_cookies()
    return driver


def visit(driver: webdriver.Chrome, site: Site, path: str) -> None:
    """Open a page; it is accessible and asked the recommendations side at most once."""
    site.movies_api.paths.clear()
    driver.get(site.url + path)
    assert len(site.movies_api.recommendation_calls()) <= 1, site.movies_api.paths
    check_accessible(driver, site)


def check_accessible(driver: webdriver.Chrome, site: Site) -> None:
    violations = axe_violations(driver, site.axe)
    assert not violations, f"{driver.current_url}: {violations}"


def wait_for(driver: webdriver.Chrome, css: str) -> WebElement:
    return WebDriverWait(driver, WAIT_S).until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css))
    )


def sign_in(driver: webdriver.Chrome, site: Site, name: str) -> None:
    visit(driver, site, "/signin")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
    assert wait_for(driver, ".who").text == name


def titles(driver: webdriver.Chrome, css: str = ".card-title a") -> list[str]:
    return [a.text for a in driver.find_elements(By.CSS_SELECTOR, css)]


def test_sign_in_search_open_a_film_and_rate_it_without_a_reload(browser: webdriver.Chrome, site: Site) -> None:
    sign_in(browser, site, "viewer-one")
    box = browser.find_element(By.ID, "site-search")
    box.send_keys("film")
    box.submit()
    wait_for(browser, "#results h1")
    check_accessible(browser, site)
    found = titles(browser)
    assert found and all("Film" in t for t in found)
    assert "1 of" in browser.find_element(By.CSS_SELECTOR, ".pager [aria-current]").text
    browser.find_element(By.CSS_SELECTOR, ".pager a[rel=next]").click()  # htmx swaps #results only
    WebDriverWait(browser, WAIT_S).until(lambda d: "page=2" in d.current_url)
    assert titles(browser) != found

    first = browser.find_element(By.CSS_SELECTOR, ".card-title a")
    name = first.text
    first.click()
    assert wait_for(browser, "h1").text.startswith(name)
    check_accessible(browser, site)
    browser.execute_script("window.notReloaded = true")
    browser.find_element(By.CSS_SELECTOR, "label[for=score-8]").click()  # htmx posts on change
    assert "Saved: 8/10" in wait_for(browser, ".saved").text
    assert browser.execute_script("return window.notReloaded") is True
    assert browser.find_element(By.ID, "score-8").is_selected()
    check_accessible(browser, site)
    similar = titles(browser, "[aria-labelledby=similar-title] .card-title a")
    assert similar and name not in similar


def film_ids(driver: webdriver.Chrome, css: str) -> list[str]:
    return [str(a.get_attribute("href")).rsplit("/", 1)[1] for a in driver.find_elements(By.CSS_SELECTOR, css)]


def test_anonymous_home_shows_the_top_rows(browser: webdriver.Chrome, site: Site) -> None:
    visit(browser, site, "/")
    rows = browser.find_elements(By.CSS_SELECTOR, "section.row")
    assert len(rows) >= 2
    assert all(row.find_elements(By.CSS_SELECTOR, ".card .imdb") for row in rows)
    assert browser.find_element(By.LINK_TEXT, "Sign in")


def test_the_home_pages_personal_rows_change_after_a_rating(browser: webdriver.Chrome, site: Site) -> None:
    sign_in(browser, site, "user-3")
    visit(browser, site, "/")
    first_row = "section[data-kind=must_watch] .card-title a"
    before = film_ids(browser, first_row)
    assert before
    assert browser.find_elements(By.CSS_SELECTOR, ".card-reason")  # every card says why it is there
    browser.find_element(By.CSS_SELECTOR, first_row).click()
    wait_for(browser, "label[for=score-9]").click()
    wait_for(browser, ".saved")
    visit(browser, site, "/")
    assert before[0] not in film_ids(browser, first_row)  # the rated film leaves at once
    deadline = time.monotonic() + CHANGE_TIMEOUT_S
    while home_source(browser) != "overlay" and time.monotonic() < deadline:
        time.sleep(0.3)  # until the online updater has folded the rating in
        visit(browser, site, "/")
    assert home_source(browser) == "overlay"  # the rows are now computed with the new rating folded in
    after = film_ids(browser, first_row)
    assert before[0] not in after
    assert len(after) == len(before)


def home_source(driver: webdriver.Chrome) -> str | None:
    return driver.find_element(By.CSS_SELECTOR, "[data-source]").get_attribute("data-source")


def rate_from_search(driver: webdriver.Chrome, site: Site, query: str, score: int) -> str:
    visit(driver, site, f"/search?q={query}")
    link = driver.find_element(By.CSS_SELECTOR, ".card-title a")
    film_id = str(link.get_attribute("href")).rsplit("/", 1)[1]
    link.click()
    wait_for(driver, f"label[for=score-{score}]").click()
    wait_for(driver, ".saved")
    return film_id


def test_my_ratings_newest_first(browser: webdriver.Chrome, site: Site) -> None:
    sign_in(browser, site, "rater")
    older = rate_from_search(browser, site, "Film 5", 7)
    newer = rate_from_search(browser, site, "Film 7", 5)
    visit(browser, site, "/my/ratings")
    assert film_ids(browser, ".card-title a") == [newer, older]
    assert [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".my-score strong")] == ["5/10", "7/10"]
    visit(browser, site, f"/films/{newer}")
    assert "You rated it 5/10" in browser.find_element(By.CSS_SELECTOR, ".stars legend").text


def test_removing_a_rating(browser: webdriver.Chrome, site: Site) -> None:
    sign_in(browser, site, "remover")
    kept = rate_from_search(browser, site, "Film 5", 7)
    removed = rate_from_search(browser, site, "Film 7", 5)
    browser.find_element(By.XPATH, "//button[normalize-space()='Remove my rating']").click()
    removed_note = expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, ".saved"), "Rating removed")
    WebDriverWait(browser, WAIT_S).until(removed_note)  # htmx swapped the fragment in
    assert "Not rated yet" in browser.find_element(By.CSS_SELECTOR, ".stars legend").text
    visit(browser, site, f"/films/{removed}")
    assert "Not rated yet" in browser.find_element(By.CSS_SELECTOR, ".stars legend").text
    visit(browser, site, "/my/ratings")
    assert film_ids(browser, ".card-title a") == [kept]


def test_rating_works_without_javascript(site: Site) -> None:
    driver = chromium(javascript=False)  # axe-core needs JavaScript: these pages are checked above
    try:
        driver.get(f"{site.url}/signin")
        driver.find_element(By.ID, "name").send_keys("no-script")
        driver.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
        driver.get(f"{site.url}/search?q=Film 3")
        driver.find_element(By.CSS_SELECTOR, ".card-title a").click()
        driver.find_element(By.CSS_SELECTOR, "label[for=score-6]").click()
        driver.find_element(By.XPATH, "//button[normalize-space()='Save rating']").click()
        assert "You rated it 6/10" in wait_for(driver, ".stars legend").text
        assert driver.find_element(By.ID, "score-6").is_selected()
    finally:
        driver.quit()


def test_a_new_viewer_picks_films_and_gets_a_personal_list(browser: webdriver.Chrome, site: Site) -> None:
    sign_in(browser, site, "newcomer")
    visit(browser, site, "/onboarding")
    boxes = browser.find_elements(By.CSS_SELECTOR, ".picks input[type=checkbox]")
    genres = browser.find_elements(By.CSS_SELECTOR, ".pick-genre legend")
    assert len(genres) >= 3
    picked = []
    for box in boxes[::4][:3]:  # one film of each of three genres
        browser.find_element(By.CSS_SELECTOR, f"label[for='{box.get_attribute('id')}']").click()
        picked.append(box.get_attribute("value"))
    browser.find_element(By.CSS_SELECTOR, "form.onboarding button[type=submit]").click()
    # The page reloads itself until the updater has folded the new viewer in.
    WebDriverWait(browser, CHANGE_TIMEOUT_S).until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".source").get_attribute("data-source") in ("overlay", "personal")
    )
    check_accessible(browser, site)
    links = browser.find_elements(By.CSS_SELECTOR, ".card-title a")
    shown = [str(a.get_attribute("href")).rsplit("/", 1)[1] for a in links]
    assert shown and not set(picked) & set(shown)


def test_behind_an_authenticating_proxy_the_bearer_header_signs_the_viewer_in(site: Site) -> None:
    settings = WebSettings(web_movies_api_url=site.movies_url, web_auth="proxy")
    token = SignIn(WebSettings(jwt_secret=SECRET)).mint("proxied")
    forged = SignIn(WebSettings(jwt_secret="another-secret-of-at-least-thirty-two-bytes")).mint("proxied")
    with TestClient(create_web_app(settings)) as client:
        assert client.get("/signin").status_code == 404  # no sign-in form
        assert client.get("/onboarding").status_code == 401
        page = client.get("/onboarding", headers={"Authorization": f"Bearer {token}"})
        assert page.status_code == 200
        assert "proxied" in page.text and "Sign out" not in page.text
        refused = client.post(
            "/films/" + "0" * 32 + "/rating", data={"score": "5"}, headers={"Authorization": f"Bearer {forged}"}
        )
        assert refused.status_code == 401  # the Movies API checks the token, not the web app

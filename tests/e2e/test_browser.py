"""The Streamlit app in a real browser: Debian's chromium driven by Playwright against `streamlit run`.

Upload through the dropzone, ask in the chat input, wait for the cited answer, open the sources, and
chat from two browser sessions at once (histories must not mix). Screenshots go to the test's tmp dir.
.ci/run installs chromium (apt-get install -y chromium); elsewhere the test is skipped without it.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import EXAMPLES
from tests.support.net import app_environment, free_port, start_process

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FIRST = "How long does the battery of the Aurora e-bike last?"
SECOND = "How long does it take to charge the Aurora battery?"

pytestmark = pytest.mark.slow


@pytest.fixture
def app_url(tmp_path):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it with apt-get install -y chromium")
        pytest.skip("no chromium here (apt-get install -y chromium)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_process(
        ["-m", "streamlit", "run", "apps/chat.py", "--server.port", str(port)],
        app_environment(tmp_path),
        f"{url}/_stcore/health",
        timeout=90,
    )
    try:
        yield url
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
        assert "Traceback" not in output, output[-3000:]


def ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")


def test_upload_chat_sources_and_two_sessions(app_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=180_000)  # answers from a 0.5B model on 2 CPU cores take a while
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(180_000)
            page.goto(app_url)
            expect(page.get_by_text("No documents yet")).to_be_visible()

            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
                [str(EXAMPLES / "aurora-e-bike-manual.md")]
            )
            page.get_by_role("button", name="Ingest").click()
            expect(page.get_by_text("Ingested aurora-e-bike-manual.md")).to_be_visible()

            ask(page, FIRST)
            # while the answer streams, no second question can be sent (it would cut the answer off)
            expect(page.get_by_test_id("stChatInputTextArea")).to_be_disabled()
            answer = page.get_by_test_id("stChatMessage").nth(1)
            expect(answer.get_by_test_id("stExpander").first).to_be_visible()
            expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled()
            answer.get_by_text("Sources (").click()
            expect(answer.get_by_text("library/uploads/aurora-e-bike-manual.md").first).to_be_visible()
            expect(answer.locator("mark").first).to_be_visible()  # the supporting sentence, highlighted
            page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)

            # two sessions at once: each keeps its own history
            other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            other.set_default_timeout(180_000)
            other.goto(app_url)
            expect(other.get_by_test_id("stChatInputTextArea")).to_be_visible()
            ask(page, SECOND)
            ask(other, FIRST)
            expect(page.get_by_test_id("stChatMessage")).to_have_count(4)
            expect(other.get_by_test_id("stChatMessage")).to_have_count(2)
            expect(other.get_by_test_id("stChatMessage").nth(1).get_by_test_id("stExpander")).to_be_visible()
            expect(page.get_by_test_id("stChatMessage").nth(3).get_by_test_id("stExpander")).to_be_visible()
            assert SECOND not in other.get_by_test_id("stChatMessage").nth(0).inner_text()
            assert page.get_by_test_id("stChatMessage").nth(2).inner_text().strip().endswith(SECOND)
            other.screenshot(path=str(tmp_path / "second-session.png"), full_page=True)
            assert (tmp_path / "chat.png").stat().st_size > 10_000
        finally:
            browser.close()

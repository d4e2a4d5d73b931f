"""The Streamlit app in a real browser: Debian's chromium driven by Playwright against `streamlit run`.

Upload through the dropzone (every file's outcome listed), ask in the chat input and watch the answer being
worked on (its stage, then a draft below the question and above the disabled input), the checked answer with
its timings against a stopwatch, this answer's sources, feedback into the file the evaluation reads, two browser
sessions at once (histories must not mix), a reload that keeps the conversation, and a phone-width page.
Screenshots go to the test's tmp dir (pytest keeps the last three runs' dirs), and on a failure every open
page is saved there as failure-*.png.
.ci/run installs chromium (apt-get install -y chromium); elsewhere the test is skipped without it.
"""

from __future__ import annotations

import os
import re
import shutil
import time

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
        assert "missing ScriptRunContext" not in output, output[-3000:]  # no warnings flood the server log


def ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")


def test_upload_chat_sources_and_two_sessions(app_url, tmp_path):
    import json

    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=180_000)  # answers from a 0.5B model on 2 CPU cores take a while
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(180_000)
            page.goto(app_url)
            expect(page.get_by_text("No documents yet")).to_be_visible()

            # every file of an upload is listed with what happened to it, a refused type included
            refused = tmp_path / "setup.exe"
            refused.write_bytes(b"MZ")
            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
                [str(EXAMPLES / "aurora-e-bike-manual.md"), str(refused)]
            )
            page.get_by_role("button", name="Ingest").click()
            outcome = page.get_by_text("Last upload: 1 ingested, 1 refused")
            expect(outcome).to_be_visible()
            expect(page.get_by_text("setup.exe: type .exe is not accepted")).to_be_visible()

            asked = time.perf_counter()
            ask(page, FIRST)
            # while it works: what it is doing, then a draft; the input stays below and says it is waiting
            box = page.get_by_test_id("stChatInputTextArea")
            expect(box).to_be_disabled()
            expect(box).to_have_attribute("placeholder", re.compile("Answering"))
            expect(page.get_by_test_id("stExpander").get_by_text(re.compile("Searching|Found|writing"))).to_be_visible()
            working = page.get_by_test_id("stChatMessage").nth(1)
            assert working.bounding_box()["y"] < box.bounding_box()["y"]  # the answer above the input
            expect(page.locator(".rag-draft")).to_be_visible()  # tokens as a draft …
            expect(box).to_be_enabled()
            expect(page.locator(".rag-draft")).to_have_count(0)  # … replaced by the checked answer
            answer = page.get_by_test_id("stChatMessage").nth(1)
            caption = answer.get_by_text(re.compile(r"s in all, first words after"))
            expect(caption).to_be_visible()
            stopwatch = time.perf_counter() - asked
            said = float(re.match(r"([\d.]+) s in all", caption.inner_text()).group(1))
            (tmp_path / "timings.txt").write_text(f"stopwatch {stopwatch:.1f} s\ncaption: {caption.inner_text()}\n")
            assert stopwatch - 4.0 <= said <= stopwatch + 0.2, (said, stopwatch)  # the caption is the wait
            expect(answer.locator("[id^='source-1-']").first).to_be_visible()
            expect(answer.locator("blockquote mark").first).to_be_visible()  # the supporting lines, highlighted
            expect(answer.get_by_text("library/uploads/aurora-e-bike-manual.md").first).to_be_visible()
            page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)

            # feedback lands in the file the evaluation reads
            answer.get_by_test_id("stFeedback").locator("button").first.click()
            expect(page.get_by_text("Thanks: your feedback is saved.")).to_be_visible()
            feedback = [json.loads(line) for line in (tmp_path / "feedback.jsonl").read_text().splitlines()]
            assert feedback[-1]["question"] == FIRST and feedback[-1]["rating"] == 1

            # two sessions at once: each keeps its own history
            other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            other.set_default_timeout(180_000)
            other.goto(app_url)
            expect(other.get_by_test_id("stChatInputTextArea")).to_be_visible()
            ask(page, SECOND)
            ask(other, FIRST)
            expect(page.get_by_test_id("stChatMessage")).to_have_count(4)
            expect(other.get_by_test_id("stChatMessage")).to_have_count(2)
            expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled()
            expect(other.get_by_test_id("stChatInputTextArea")).to_be_enabled()
            assert SECOND not in other.get_by_test_id("stChatMessage").nth(0).inner_text()
            assert page.get_by_test_id("stChatMessage").nth(2).inner_text().strip().endswith(SECOND)

            # a later answer's [n] goes to its own source n, not the first answer's
            later = page.get_by_test_id("stChatMessage").nth(3)
            links = later.locator("a[href^='#source-']")
            if links.count():
                href = links.first.get_attribute("href")
                assert href.startswith("#source-3-")
                links.first.click()
                expect(page.locator(f"[id='{href[1:]}']")).to_be_in_viewport()
            other.screenshot(path=str(tmp_path / "second-session.png"), full_page=True)

            # a reload keeps the conversation (kept on the server, named in the URL)
            page.reload()
            expect(page.get_by_test_id("stChatMessage")).to_have_count(4)
            assert page.get_by_test_id("stChatMessage").nth(2).inner_text().strip().endswith(SECOND)

            # on a phone: nothing wider than the screen
            phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
            phone.goto(page.url)
            expect(phone.get_by_test_id("stChatMessage")).to_have_count(4)
            phone.get_by_role("tab", name="Documents").click()
            expect(phone.get_by_test_id("stDataFrame")).to_be_visible()
            width = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], width
            phone.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
            assert (tmp_path / "chat.png").stat().st_size > 10_000
        except Exception:  # the pages as they were when it failed, kept in the test's tmp dir
            for number, context in enumerate(browser.contexts):
                for index, open_page in enumerate(context.pages):
                    open_page.screenshot(path=str(tmp_path / f"failure-{number}-{index}.png"), full_page=True)
            raise
        finally:
            browser.close()

"""The page's script in a real headless Chromium against a page server of the test's own: hostile
names, messages and Events are shown as text (nothing they hold becomes an element or runs), and
the list links to each DataFlow by its encoded name."""

from __future__ import annotations

from typing import Any

from kasugai.testing.polling import wait_until
from kasugai.view.page import Board
from view.page_support import dataflow, page_server

HOSTILE = "<img src=x onerror=\"document.title='owned'\">"


def test_hostile_values_are_text_on_the_page(browser: Any) -> None:
    board = Board()
    hostile = dataflow(name=HOSTILE, keys=(HOSTILE, "b"))
    hostile["status"]["message"] = HOSTILE
    board.set_dataflows([hostile])
    board.events.add("ns", HOSTILE, "Warning", HOSTILE, HOSTILE)
    with page_server(board) as (host, port):
        browser.get(f"http://{host}:{port}/")
        links = "return [...document.querySelectorAll('#list-rows a')].map(a => a.href)"
        listed = wait_until(lambda: browser.execute_script(links), "the list")
        browser.get(listed[0])
        keys = "return [...document.querySelectorAll('g.node')].map(g => g.dataset.key)"
        assert wait_until(lambda: browser.execute_script(keys), "the chain") == [HOSTILE, "b"]
        shown = browser.execute_script(
            "return [document.getElementById('title').textContent,"
            " document.getElementById('message').textContent,"
            " document.querySelector('#events td:last-child').textContent,"
            " document.querySelectorAll('img').length, document.title]"
        )
    assert shown == [f"ns/{HOSTILE}", HOSTILE, HOSTILE, 0, f"ns/{HOSTILE} \u2013 kasugai"]

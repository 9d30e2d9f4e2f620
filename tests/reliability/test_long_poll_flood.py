"""Open long-polls hold no worker thread: the service answers everyone else meanwhile."""

from __future__ import annotations

import threading

import requests


OPEN_POLLS = 200


def test_health_and_writes_answer_while_200_long_polls_are_open(daemon):
    head = requests.get(f"{daemon.url}/api/v1/health").json()["latest_event_index"]
    opened = threading.Barrier(OPEN_POLLS + 1)
    answers: list[int] = []

    def poll() -> None:
        with requests.Session() as s:
            opened.wait()
            answers.append(s.get(f"{daemon.url}/api/v1/events",
                                 params={"since": head, "pattern": "never/*", "wait": 25}, timeout=60).status_code)

    polls = [threading.Thread(target=poll, daemon=True) for _ in range(OPEN_POLLS)]
    for t in polls:
        t.start()
    opened.wait()
    # With a thread per poll, these would queue behind the polls for their 25 s.
    with requests.Session() as s:
        for _ in range(50):
            assert s.get(f"{daemon.url}/api/v1/health", timeout=5).json()["status"] == "ok"
        want_id = daemon.want("daily/1")
    assert daemon.wait_want(want_id, "satisfied")["status"] == "satisfied"
    for t in polls:
        t.join(60)
    assert answers == [200] * OPEN_POLLS

"""The job runner every view uses for background work: results and progress arrive on the UI thread,
errors as exception objects (traceback logged), cancelled and replaced jobs deliver nothing, shutdown
waits a bounded time."""

import logging
import threading

import pytest

from mnist_desktop.app.jobs import Job, JobRunner
from mnist_desktop.data import DatasetError


@pytest.fixture
def runner(qtbot):
    r = JobRunner(name="test")
    yield r
    r.shutdown(timeout=5)


def record(runner):
    """Everything the runner delivers, in order."""
    seen = []
    runner.progressed.connect(lambda job, values: seen.append(("progress", job.kind, values)))
    runner.finished.connect(lambda job: seen.append(("finished", job.kind, job.result, job.error)))
    runner.busy_changed.connect(lambda busy: seen.append(("busy", busy)))
    return seen


def test_progress_and_result_arrive_on_the_ui_thread_in_order(runner, qtbot):
    seen = record(runner)
    threads = []

    def work(job):
        threads.append(threading.current_thread())
        for i in range(3):
            job.report(i, 3)
        return "answer"

    runner.progressed.connect(lambda job, values: threads.append(threading.current_thread()))
    with qtbot.waitSignal(runner.finished, timeout=5000) as blocker:
        job = runner.start("main", work, path="model.npz")
    assert blocker.args == [job] and job.result == "answer" and job.error is None
    assert job.info == {"path": "model.npz"} and not job.running
    assert seen == [("busy", True), ("progress", "main", (0, 3)), ("progress", "main", (1, 3)),
                    ("progress", "main", (2, 3)), ("busy", False), ("finished", "main", "answer", None)]
    assert threads[0] is not threading.main_thread()              # the work ran on a worker thread
    assert all(t is threading.main_thread() for t in threads[1:])  # the signals arrived on the UI thread
    assert not runner.busy and runner.current("main") is None


def test_an_exception_arrives_as_the_object_with_its_traceback_logged(runner, qtbot, caplog):
    def work(job):
        raise DatasetError("cannot load MNIST from /nowhere")

    with caplog.at_level(logging.WARNING, logger="mnist_desktop.app.jobs"):
        with qtbot.waitSignal(runner.finished, timeout=5000):
            job = runner.start("main", work)
    assert isinstance(job.error, DatasetError) and str(job.error) == "cannot load MNIST from /nowhere"
    assert job.result is None
    assert "Traceback" in job.error_traceback and "in work" in job.error_traceback
    logged = [r for r in caplog.records if r.name == "mnist_desktop.app.jobs"]
    assert len(logged) == 1 and logged[0].levelno == logging.WARNING
    assert "DatasetError" in logged[0].getMessage() and "Traceback" in logged[0].getMessage()


def test_a_cancelled_job_stops_at_its_next_check_and_delivers_nothing(runner, qtbot):
    seen = record(runner)
    started, checks = threading.Event(), []

    def work(job):
        started.set()
        while not job.is_cancelled():
            job.report("tick")
            checks.append(1)
            threading.Event().wait(0.005)
        return "too late"

    job = runner.start("slow", work)
    assert started.wait(5)
    qtbot.waitUntil(lambda: len(checks) > 2)
    with qtbot.waitSignal(runner.busy_changed, timeout=1000) as blocker:
        assert runner.cancel("slow") is job
    assert blocker.args == [False] and job.cancelled and not runner.busy
    assert job.join(5)
    qtbot.waitUntil(lambda: runner.threads == 0)                  # its end was handled, and dropped
    # a job started after it delivers; by then the cancelled one's end has been handled: nothing from it
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.start("other", lambda job: 1)
    finished = [s for s in seen if s[0] == "finished"]
    assert finished == [("finished", "other", 1, None)]
    assert runner.cancel("slow") is None                          # nothing current: no-op


def test_a_new_job_of_the_same_kind_replaces_the_running_one(runner, qtbot):
    seen = record(runner)
    release = threading.Event()

    def old_work(job):
        release.wait(5)
        return "old"

    old = runner.start("main", old_work)
    new_done = threading.Event()
    with qtbot.waitSignal(runner.finished, timeout=5000) as blocker:
        new = runner.start("main", lambda job: (new_done.set(), "new")[1])
    assert blocker.args == [new] and old.cancelled and not new.cancelled
    release.set()
    assert old.join(5)
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.start("flush", lambda job: None)
    assert [s[2] for s in seen if s[0] == "finished"] == ["new", None]
    assert [s for s in seen if s[0] == "busy"] == [("busy", True), ("busy", False), ("busy", True), ("busy", False)]


def test_cancel_all_makes_every_running_job_stale(runner, qtbot):
    seen = record(runner)
    release = threading.Event()
    jobs = [runner.start(kind, lambda job: release.wait(5) and job.kind) for kind in ("a", "b")]
    assert runner.busy and {j.kind for j in runner.jobs()} == {"a", "b"}
    runner.cancel_all()
    assert not runner.busy and all(j.cancelled for j in jobs)
    release.set()
    assert all(j.join(5) for j in jobs)
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.start("c", lambda job: "c")
    assert [s[1] for s in seen if s[0] == "finished"] == ["c"]
    assert [s for s in seen if s[0] == "busy"] == [("busy", True), ("busy", False), ("busy", True), ("busy", False)]


def test_shutdown_waits_a_bounded_time_for_a_job_that_ignores_cancel(qtbot, caplog):
    runner = JobRunner(name="stubborn")
    release = threading.Event()
    job = runner.start("deaf", lambda job: release.wait(30))
    with caplog.at_level(logging.WARNING, logger="mnist_desktop.app.jobs"):
        assert runner.shutdown(timeout=0.05) is False
    assert job.cancelled and job.running and "still running" in caplog.text
    release.set()
    assert runner.shutdown(timeout=5) is True and not job.running


def test_shutdown_ends_cooperative_jobs(runner):
    job = runner.start("loop", lambda job: [threading.Event().wait(0.005) for _ in iter(job.is_cancelled, True)])
    assert runner.shutdown(timeout=5) is True and job.cancelled and not job.running and not runner.busy


def test_wait_idle_runs_the_event_loop_until_results_are_delivered(runner):
    delivered = []
    runner.finished.connect(lambda job: delivered.append(job.result))
    runner.start("a", lambda job: 2 + 2)
    assert runner.wait_idle(timeout=10) is True
    assert delivered == [4] and not runner.busy


def test_a_job_is_described_by_kind_and_state(runner, qtbot):
    with qtbot.waitSignal(runner.finished, timeout=5000):
        job = runner.start("main", lambda job: None)
    assert isinstance(job, Job) and repr(job) == "<Job main done>"

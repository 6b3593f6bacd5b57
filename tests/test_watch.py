import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.service.watch import OVERFLOW_LOGGER, Debouncer, TreeWatcher, is_ignored, relevant


class Recorder:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.event = threading.Event()

    def __call__(self, rel: str) -> None:
        self.seen.append(rel)
        self.event.set()

    def wait_for(self, wanted: str, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(wanted in s for s in self.seen):
                return True
            time.sleep(0.02)
        return False


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "connector.yaml").write_text("zedonk: {}\n")
    (tmp_path / "catalogue").mkdir()
    (tmp_path / "catalogue" / "coats.yaml").write_text("name: Coats\n")
    return tmp_path


@pytest.fixture
def watcher(tree: Path) -> Iterator[tuple[TreeWatcher, Recorder]]:
    recorder = Recorder()
    w = TreeWatcher(tree, recorder)
    w.start()
    yield w, recorder
    w.stop()


@pytest.mark.parametrize(
    "name", [".coats.yaml.swp", "coats.yaml~", ".#coats.yaml", "4913", "coats.yaml.tmp", ".git"]
)
def test_editor_droppings_are_ignored(name: str) -> None:
    assert is_ignored(name)


def test_only_the_connector_file_and_catalogue_yaml_matter(tmp_path: Path) -> None:
    root = tmp_path
    assert relevant(root, str(root / "connector.yaml")) == "connector.yaml"
    assert relevant(root, str(root / "catalogue" / "coats.yaml")) == "catalogue/coats.yaml"
    assert relevant(root, str(root / "catalogue" / "a" / "b.yml")) == "catalogue/a/b.yml"
    assert relevant(root, str(root / "catalogue" / "sub"), is_directory=True) == "catalogue/sub"
    assert relevant(root, str(root / "catalogue" / "notes.txt")) is None
    assert relevant(root, str(root / "catalogue" / ".coats.yaml.swp")) is None
    assert relevant(root, str(root / "README.md")) is None
    assert relevant(root, str(root / ".git" / "index")) is None
    assert relevant(root, "/elsewhere/connector.yaml") is None


def test_an_atomic_save_through_a_rename_is_seen(watcher: tuple[TreeWatcher, Recorder]) -> None:
    w, rec = watcher
    catalogue = w.root / "catalogue"
    # vim's probe, a swap file and a temp file: none of them is a change on its own.
    (catalogue / "4913").write_text("")
    (catalogue / "4913").unlink()
    (catalogue / ".coats.yaml.swp").write_text("swap")
    tmp = catalogue / ".coats.yaml.tmp123"
    tmp.write_text("name: Coats and jackets\n")
    time.sleep(0.3)
    assert rec.seen == []
    tmp.replace(catalogue / "coats.yaml")
    assert rec.wait_for("catalogue/coats.yaml")
    assert all(s == "catalogue/coats.yaml" for s in rec.seen), rec.seen


def test_connector_yaml_edits_are_seen_but_other_top_level_files_are_not(
    watcher: tuple[TreeWatcher, Recorder],
) -> None:
    w, rec = watcher
    (w.root / "README.md").write_text("hello\n")
    time.sleep(0.3)
    assert rec.seen == []
    (w.root / "connector.yaml").write_text("zedonk: {url: x}\n")
    assert rec.wait_for("connector.yaml")


def test_a_queue_overflow_restarts_the_watches_and_asks_for_a_rescan(
    watcher: tuple[TreeWatcher, Recorder],
) -> None:
    w, rec = watcher
    assert w.check() is None
    # What watchdog's inotify backend logs when the kernel drops events.
    logging.getLogger(OVERFLOW_LOGGER).warning(
        "Inotify queue overflowed; filesystem events were lost"
    )
    assert w.check() == "the kernel's event queue overflowed"
    assert w.restarts == 1
    assert any(s.startswith("(rescan") for s in rec.seen)
    assert w.check() is None
    (w.root / "catalogue" / "shoes.yaml").write_text("name: Shoes\n")
    assert rec.wait_for("catalogue/shoes.yaml")


def test_a_dead_watcher_thread_is_noticed_and_replaced(
    watcher: tuple[TreeWatcher, Recorder],
) -> None:
    w, rec = watcher
    for emitter in list(w._observer.emitters):
        emitter.stop()
        emitter.join(5)
    assert w.check() in ("a watcher thread died", "the watcher thread died")
    assert w.check() is None
    (w.root / "catalogue" / "coats.yaml").write_text("name: Coats 2\n")
    assert rec.wait_for("catalogue/coats.yaml")


def test_a_replaced_catalogue_directory_is_watched_again(
    watcher: tuple[TreeWatcher, Recorder],
) -> None:
    w, rec = watcher
    catalogue = w.root / "catalogue"
    staged = w.root / "staged"
    staged.mkdir()
    (staged / "coats.yaml").write_text("name: Coats\n")
    shutil.rmtree(catalogue)
    staged.rename(catalogue)
    assert rec.wait_for("catalogue")
    # Either the old watch's thread ended with its directory, or the new inode gives it away.
    assert w.check() in ("catalogue/ was replaced", "a watcher thread died")
    assert w.check() is None
    rec.seen.clear()
    (catalogue / "bags.yaml").write_text("name: Bags\n")
    assert rec.wait_for("catalogue/bags.yaml")


def release(tmp_path: Path, name: str) -> Path:
    root = tmp_path / "releases" / name
    (root / "catalogue").mkdir(parents=True)
    (root / "connector.yaml").write_text(f"release: {name}\n")
    (root / "catalogue" / "coats.yaml").write_text("name: Coats\n")
    return root


def swap(link: Path, target: Path) -> None:
    new = link.with_name(f".{link.name}.new")
    new.symlink_to(target)
    new.replace(link)


def test_edits_behind_a_symlinked_root_are_seen_and_a_swap_is_followed(tmp_path: Path) -> None:
    r1, r2 = release(tmp_path, "r1"), release(tmp_path, "r2")
    current = tmp_path / "current"
    current.symlink_to(r1)
    rec = Recorder()
    w = TreeWatcher(current, rec)
    w.start()
    try:
        (r1 / "catalogue" / "bags.yaml").write_text("name: Bags\n")
        assert rec.wait_for("catalogue/bags.yaml")  # reported by its path under the link
        assert w.check() is None
        swap(current, r2)
        reason = w.check()
        assert reason is not None and "now leads to" in reason and str(r2) in reason
        assert rec.wait_for("(rescan: the catalogue root now leads to")
        rec.seen.clear()
        (r2 / "catalogue" / "shoes.yaml").write_text("name: Shoes\n")
        assert rec.wait_for("catalogue/shoes.yaml")  # the watches moved to the new release
        (r1 / "catalogue" / "old.yaml").write_text("name: Old\n")
        time.sleep(0.3)
        # and left the old one (shoes.yaml's write may still report its later events)
        assert not [path for path in rec.seen if "old.yaml" in path], rec.seen
    finally:
        w.stop()


def test_a_swapped_connector_yaml_link_is_followed(tree: Path) -> None:
    configs = tree / "configs"
    configs.mkdir()
    (configs / "a.yaml").write_text("a: 1\n")
    (configs / "b.yaml").write_text("b: 1\n")
    (tree / "connector.yaml").unlink()
    (tree / "connector.yaml").symlink_to(configs / "a.yaml")
    rec = Recorder()
    w = TreeWatcher(tree, rec)
    w.start()
    try:
        (configs / "a.yaml").write_text("a: 2\n")  # an edit of the file the link leads to
        assert rec.wait_for("connector.yaml")
        swap(tree / "connector.yaml", configs / "b.yaml")
        reason = w.check()
        assert reason is not None and reason.startswith("connector.yaml now leads to")
    finally:
        w.stop()


def test_the_debouncer_settles_a_burst_into_one_batch() -> None:
    debouncer = Debouncer(quiet=0.2)
    for i in range(500):
        debouncer.poke(f"catalogue/file{i % 50}.yaml")
    started = time.monotonic()
    batch = debouncer.wait(timeout=5)
    assert batch is not None and len(batch) == 50
    assert time.monotonic() - started >= 0.15
    assert debouncer.wait(timeout=0.3) is None


def test_the_debouncer_hands_over_a_batch_when_changes_never_stop() -> None:
    debouncer = Debouncer(quiet=0.2, max_wait=0.6)
    stop = threading.Event()

    def keep_poking() -> None:
        while not stop.is_set():
            debouncer.poke("catalogue/busy.yaml")
            time.sleep(0.05)

    thread = threading.Thread(target=keep_poking)
    thread.start()
    try:
        started = time.monotonic()
        assert debouncer.wait(timeout=5) == ["catalogue/busy.yaml"]
        assert 0.5 <= time.monotonic() - started < 2.0
    finally:
        stop.set()
        thread.join()


def test_the_debouncer_times_out_when_nothing_happens() -> None:
    debouncer = Debouncer(quiet=0.1)
    started = time.monotonic()
    assert debouncer.wait(timeout=0.2) is None
    assert time.monotonic() - started >= 0.19
    assert not debouncer.pending

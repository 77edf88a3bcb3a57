"""The parent/child protocol's framing (pyrt.executor.sync), without processes."""

from __future__ import annotations

from pyrt.executor import sync


def test_a_peer_that_exits_with_our_message_unread_still_gets_its_last_words_through() -> None:
    """init fails and exits before reading "joined": the kernel resets the connection and says so on the
    next receive, ahead of the error report init queued before exiting.  That report must arrive."""
    parent, child = sync.pair()
    sync.send(parent, "joined")  # never read
    sync.send(child, "error", step="join network namespace /proc/self/ns/uts", msg="Invalid argument")
    child.close()
    msg = sync.recv(parent)
    assert msg == {"type": "error", "step": "join network namespace /proc/self/ns/uts", "msg": "Invalid argument"}
    assert sync.recv(parent) is None  # then EOF
    parent.close()


def test_messages_keep_their_order_and_fields() -> None:
    a, b = sync.pair()
    sync.send(a, "pid", pid=42)
    sync.send(a, "ready")
    assert sync.expect(b, "pid") == {"type": "pid", "pid": 42}
    assert sync.expect(b, "ready", "error") == {"type": "ready"}
    a.close()
    assert sync.recv(b) is None
    b.close()

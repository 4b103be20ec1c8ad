"""Concurrency per destination, grown and shrunk by the destination's answers (Postfix-style slow
start): each destination starts with a small window of simultaneous transactions, gains one per
success up to a maximum, and is halved by a transaction that fails as a whole (refused connection,
TLS failure, 4xx to everything). A destination at its window takes no more work for now: the
caller puts the delivery back for a moment instead of waiting, so a slow or failing destination
never holds the workers that healthy ones need."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Window:
    """One destination's state."""

    limit: int
    active: int = 0


@dataclass
class Windows:
    """Every destination's window; ``initial`` and ``maximum`` bound each one."""

    initial: int = 2
    maximum: int = 10
    _windows: dict[str, Window] = field(default_factory=dict)

    def window(self, destination: str) -> Window:
        """The destination's window (created at ``initial``)."""
        return self._windows.setdefault(destination, Window(self.initial))

    def acquire(self, destination: str) -> bool:
        """Take a slot for one transaction; False when the destination is at its window."""
        window = self.window(destination)
        if window.active >= window.limit:
            return False
        window.active += 1
        return True

    def release(self, destination: str, succeeded: bool) -> None:
        """Give the slot back: a success widens the window by one, a failure halves it."""
        window = self.window(destination)
        window.active = max(0, window.active - 1)
        if succeeded:
            window.limit = min(self.maximum, window.limit + 1)
        else:
            window.limit = max(1, window.limit // 2)
        if window.active == 0 and window.limit == self.initial:
            del self._windows[destination]  # nothing to remember: memory stays bounded

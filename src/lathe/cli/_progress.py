"""Rich progress displays fed by the training and tuning callbacks (stderr only)."""

from __future__ import annotations

from typing import Any

__all__ = ["TrainProgress", "TrialProgress"]


class TrainProgress:
    """Rich progress display fed by the training callbacks."""

    def __init__(self, console: Any, enabled: bool) -> None:
        self.enabled = enabled
        self.console = console
        self.progress: Any = None
        self.task: Any = None
        self.member = ""

    def __enter__(self) -> TrainProgress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("training", total=None)
        return self

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if self.progress is None:
            return
        if event == "member":
            self.member = f"model {info['member']}/{info['total']} "
        elif event == "plan":
            if info["fits"]:
                self.member = f"{info['member']} (about {info['estimate_s']} s) "
            else:
                self.console.print(
                    f"[dim]skipping the {info['member']}: it would take about "
                    f"{info['estimate_s']} s, and as long again to refit; "
                    f"{info['budget_left_s']} s of the time budget are left[/dim]")
        elif event == "refit":
            self.member = f"(refit on all {info['rows']} rows) "
            self.progress.update(self.task, description=f"training {self.member}")
        elif event == "round":
            self.progress.update(
                self.task,
                description=f"training {self.member}round",
                completed=info.get("round", 0),
                total=info.get("total"),
            )
        elif event == "epoch":
            valid = info.get("valid")
            shown = f" valid {info.get('metric') or 'score'} {valid:.4f}" if valid is not None else ""
            self.progress.update(
                self.task,
                description=f"training {self.member}epoch{shown}",
                completed=info.get("epoch", 0),
                total=info.get("total"),
            )

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()


class TrialProgress:
    """A bar of finished trials out of the study's total, fed by `lathe.tune`'s callback."""

    def __init__(self, console: Any, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.console = console
        self.total = total
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> TrialProgress:
        if self.enabled:
            from rich.progress import Progress

            self.progress = Progress(console=self.console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("tuning", total=self.total)
        return self

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if self.progress is not None and event == "trial":
            self.progress.update(self.task, completed=info["trial"], total=info["total"])

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()

"""Interrupt a training run after a given chunk, then resume it (for the resume tests)."""

import pytest

from jaxmm import checkpoint, training


def interrupt_then_resume(monkeypatch, argv, run_dir, interrupt_at_chunk=2):
    """Train with ``argv`` into ``run_dir``, Ctrl-C while logging ``interrupt_at_chunk``, resume."""
    original_write = training.MetricsLog.write

    def interrupt(self, rows):
        if rows[0]["chunk"] == interrupt_at_chunk:
            raise KeyboardInterrupt
        original_write(self, rows)

    monkeypatch.setattr(training.MetricsLog, "write", interrupt)
    with pytest.raises(KeyboardInterrupt):
        training.main([*argv, "--run-dir", str(run_dir)])
    monkeypatch.undo()
    assert checkpoint.read_config(run_dir)[1]["chunk"] == interrupt_at_chunk - 1
    training.main(["--resume", str(run_dir), "--no-progress"])

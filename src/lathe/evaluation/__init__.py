"""Evaluation: pure metric functions (`metrics`) and the HTML report (`report`)."""

"""Training: choosing a family, presets (`fast`, `best`), and the fitting loop."""

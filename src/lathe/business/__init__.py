"""The business case of a model: cost, energy, carbon and value per prediction, and which
candidate to run (`lathe decide`).

Layers: beside serving, tuning, compression, monitoring and experiments (it imports none of
them); it uses the registry (to load candidates), the loaded model, evaluation and data. The
footprint arithmetic itself lives in `lathe.footprint`, low enough for training to use it.
The server's predict path is handed in by `lathe.api.decide` as a scorer factory.
"""

from lathe.business.decide import decide_candidates, pareto_front, recommend
from lathe.business.money import cost_per_million, parse_prices, parse_traffic
from lathe.business.value import best_threshold, expected_value, value_matrix

__all__ = ["decide_candidates", "pareto_front", "recommend", "cost_per_million",
           "parse_prices", "parse_traffic", "best_threshold", "expected_value", "value_matrix"]

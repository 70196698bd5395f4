"""Experiments: A/B statistics (`stats/`, pure), outcome files, the decision and its report.

    from lathe.experiments.service import analyze_file, plan
    analyze_file("ab.csv", variant="group", metrics=["converted"], control="control")
    plan("proportion", baseline=0.12, mde=0.01)["per_arm"]

Layer: below `lathe.api`, beside monitoring and business, above the registry.

>>> from lathe.experiments.stats.srm import srm_test
>>> srm_test([44_700, 45_489], [1, 1]).mismatch
False
"""

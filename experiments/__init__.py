"""The experiments suite: optimization-inspired networks, compiled by alg2net, against the ResNet baseline.

    python -m experiments --quick                      # writes experiments/results/results_quick.md and PNGs
    python -m experiments --study stability --quick    # writes experiments/results/stability_quick.md and a PNG

Modules, in the order a run uses them: `networks` (compile examples/*.alg at run time and import them), `tasks`
(data, and the stem and head around a network), `train` (the loop, single process or DistributedDataParallel),
`report` (the markdown table and the plots), `stability` (the stability study: learnable params against the regions
`alg2net check` derives, unconstrained and `--constrain`, judged by `check --weights`), `run` (the command line).
"""

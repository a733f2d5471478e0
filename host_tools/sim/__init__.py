"""The simulated patient: scenario files and their rendering to a sensor timeline.

    from host_tools.sim import load_scenario, render
    tl = render(load_scenario("demo"))       # arrays + ground truth, deterministic per seed
    tl.to_csv("trace.csv")                   # a replay trace for `dowel replay`

    python -m host_tools.sim render demo --out trace.csv
    python -m host_tools.sim list

The format is documented in `host_tools.sim.scenario` and host_tools/scenarios/README.md.
"""

from host_tools.sim.render import Timeline, render
from host_tools.sim.scenario import builds, list_scenarios, load_scenario

__all__ = ["Timeline", "builds", "list_scenarios", "load_scenario", "render"]

"""Shared bits for the engine tests."""
from __future__ import annotations

from functools import lru_cache

from shifu.content import paths
from shifu.roleplay.scenario import Scenario, parse_scenario


@lru_cache(maxsize=None)
def scenario(scenario_id: str) -> Scenario:
    """A scenario checked against its schema only, so engine tests do not depend on the rubric files."""
    return parse_scenario(paths.scenarios_dir() / f"{scenario_id}.yaml")

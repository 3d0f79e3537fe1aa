"""A local stand-in for the Relworx API, for development and tests.

Same endpoints, headers and fields as Relworx v2, with in-memory state, signed
webhooks and outcomes scripted by test phone numbers (see ``scenarios``).
Standalone: the standard library plus ``payments.signature``, no Django, so it
runs as its own process under ``make run`` and in a thread in tests.
"""

from payments.sandbox.scenarios import SCENARIOS, Scenario, scenario_for
from payments.sandbox.server import SandboxServer

__all__ = ["SCENARIOS", "SandboxServer", "Scenario", "scenario_for"]

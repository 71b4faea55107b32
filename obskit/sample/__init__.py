"""The bundled sample scenario: a realistic day of an image classifier served by Triton."""

from obskit.sample.generate import DEFAULT_REQUESTS, SampleResult, generate
from obskit.sample.scenario import Incident, Scenario, default_scenario

__all__ = ["DEFAULT_REQUESTS", "Incident", "SampleResult", "Scenario", "default_scenario", "generate"]

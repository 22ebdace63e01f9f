"""Every sensor of the code location. Each is written beside the domain it watches; this is the one list."""

import dagster as dg

from slo_assets.defs.automation import AUTOMATION_SENSORS
from slo_assets.defs.live.alerts import live_tick_sensor
from slo_assets.defs.live.outputs import live_outputs_sensor
from slo_assets.defs.remediation.sensors import escalation_sensor, remediation_sensor
from slo_assets.defs.settings import LocationSettings


def sensors(settings: LocationSettings) -> list[dg.SensorDefinition]:
    """Every sensor of a load; the live sensor's interval and default status are settings."""
    return [remediation_sensor, escalation_sensor, live_tick_sensor(settings), *AUTOMATION_SENSORS, live_outputs_sensor]

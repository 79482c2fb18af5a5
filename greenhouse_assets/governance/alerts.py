"""Alerts for failed runs and failed asset checks, sent through the configured notifier.

`GREENHOUSE_ALERT_NOTIFIER=log` (default) writes the alert to the sensor's log (visible in the
sensor's tick history in the UI); `webhook` POSTs it as JSON to `GREENHOUSE_ALERT_WEBHOOK_URL`
(Slack/Teams-style incoming webhooks read the `text` field; the rest is for machines).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import asdict, dataclass, field

NOTIFIERS = ("log", "webhook")


@dataclass(frozen=True)
class Alert:
    kind: str  # "run_failure" | "check_failure"
    text: str
    details: dict = field(default_factory=dict)


def send(alert: Alert, *, notifier: str, webhook_url: str, log: logging.Logger, timeout: float = 10.0) -> None:
    """Deliver one alert; a misconfigured notifier or an unreachable webhook raises (the sensor tick fails visibly)."""
    if notifier not in NOTIFIERS:
        raise ValueError(f"GREENHOUSE_ALERT_NOTIFIER={notifier!r}: expected one of {NOTIFIERS}")
    if notifier == "log":
        log.error("ALERT %s: %s %s", alert.kind, alert.text, json.dumps(alert.details, default=str))
        return
    if not webhook_url:
        raise ValueError("GREENHOUSE_ALERT_NOTIFIER=webhook needs GREENHOUSE_ALERT_WEBHOOK_URL")
    body = json.dumps(asdict(alert), default=str).encode()
    request = urllib.request.Request(webhook_url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()

"""Alerts for failed runs, failed asset checks and stale assets, sent through the configured notifier.

`GREENHOUSE_ALERT_NOTIFIER=log` (default) writes the alert to the sensor's log (visible in the
sensor's tick history in the UI); `webhook` POSTs it as JSON `{kind, text, details, key}` to
`GREENHOUSE_ALERT_WEBHOOK_URL` (Slack/Teams-style incoming webhooks read the `text` field; the rest
is for machines).

Delivery is at most once per alert and survives failures:
- every alert has a stable dedup `key` (`run_failure:<run id>`, `check:<evaluation event id>`,
  `freshness:<asset>:<state>:<last update>`), recorded in `metadata.alerts` before it is sent;
- `deliver_pending` sends the recorded alerts not yet sent, oldest first, one transaction per
  alert holding its row lock, and marks each `sent` (or `failed`) as soon as it is done, so a tick
  that stops half-way never repeats the alerts that went out and a key already sent is skipped;
- a webhook POST that fails with a connection error, a timeout, 408, 429 or 5xx is retried after
  `RETRY_DELAYS` (1 s, 2 s, 4 s: four attempts in about 7 s); other 4xx answers are not retried.
  When every attempt failed, the alert is `failed` and the rest wait: the endpoint is down, and the
  next tick tries again from the oldest unsent alert.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg.types.json import Jsonb

NOTIFIERS = ("log", "webhook")
RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0)
_RETRIED_HTTP = {408, 429}


@dataclass(frozen=True)
class Alert:
    kind: str  # "run_failure" | "check_failure" | "freshness"
    text: str
    details: dict = field(default_factory=dict)
    key: str = ""  # stable dedup key: the same event always gives the same key


class DeliveryFailed(Exception):
    """Every attempt to deliver one alert failed (or the endpoint refused it for good)."""

    def __init__(self, attempts: int, error: str):
        super().__init__(f"not delivered after {attempts} attempt{'s' * (attempts != 1)}: {error}")
        self.attempts = attempts
        self.error = error


def send(
    alert: Alert,
    *,
    notifier: str,
    webhook_url: str,
    log: logging.Logger,
    timeout: float = 10.0,
    delays: Sequence[float] = RETRY_DELAYS,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Deliver one alert and return the number of attempts it took.

    A misconfigured notifier raises ValueError; a webhook that keeps failing raises DeliveryFailed
    after `1 + len(delays)` attempts, waiting `delays[i]` seconds before retry i + 1.
    """
    if notifier not in NOTIFIERS:
        raise ValueError(f"GREENHOUSE_ALERT_NOTIFIER={notifier!r}: expected one of {NOTIFIERS}")
    if notifier == "log":
        log.error("ALERT %s: %s %s", alert.kind, alert.text, json.dumps(alert.details, default=str))
        return 1
    if not webhook_url:
        raise ValueError("GREENHOUSE_ALERT_NOTIFIER=webhook needs GREENHOUSE_ALERT_WEBHOOK_URL")
    body = json.dumps(asdict(alert), default=str).encode()
    attempts = 0
    for delay in (*delays, None):
        attempts += 1
        try:
            request = urllib.request.Request(
                webhook_url, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
            return attempts
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code} {error.reason}"
            if error.code < 500 and error.code not in _RETRIED_HTTP:
                raise DeliveryFailed(attempts, f"{last} (not retried)") from error
        except (TimeoutError, urllib.error.URLError, http.client.HTTPException, ConnectionError) as error:
            last = str(getattr(error, "reason", error)) or type(error).__name__
        if delay is None:
            raise DeliveryFailed(attempts, last)
        log.warning(
            "alert %s: attempt %d failed (%s); retrying in %g s", alert.key or alert.kind, attempts, last, delay
        )
        sleep(delay)
    raise AssertionError("unreachable")


def record(conn: psycopg.Connection, alerts: Iterable[Alert]) -> list[str]:
    """Record alerts as pending unless their key is already known; the keys that were new."""
    new = []
    for alert in alerts:
        if not alert.key:
            raise ValueError(f"alert without a dedup key: {alert.text}")
        row = conn.execute(
            """INSERT INTO metadata.alerts (dedup_key, kind, text, details) VALUES (%s, %s, %s, %s)
               ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key""",
            (alert.key, alert.kind, alert.text, Jsonb(json.loads(json.dumps(alert.details, default=str)))),
        ).fetchone()
        if row:
            new.append(row[0])
    return new


@dataclass
class Delivery:
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, error)


def deliver_pending(
    connect: Callable[[], object], deliver: Callable[[Alert], int], notifier: str, log: logging.Logger
) -> Delivery:
    """Send every recorded alert not yet sent, oldest first, each in its own transaction.

    `connect()` opens a connection context (commit on success); `deliver(alert)` returns the number
    of attempts or raises DeliveryFailed. A row another tick is sending (locked) is skipped. After
    the first alert that could not be delivered the others wait for the next tick.
    """
    done = Delivery()
    after = 0
    while True:
        with connect() as conn:
            row = conn.execute(
                """SELECT alert_id, dedup_key, kind, text, details FROM metadata.alerts
                   WHERE status <> 'sent' AND alert_id > %s ORDER BY alert_id LIMIT 1
                   FOR UPDATE SKIP LOCKED""",
                (after,),
            ).fetchone()
            if row is None:
                return done
            after, key, kind, text, details = row
            try:
                attempts = deliver(Alert(kind=kind, text=text, details=details, key=key))
            except DeliveryFailed as error:
                conn.execute(
                    """UPDATE metadata.alerts SET status = 'failed', attempts = attempts + %s,
                                last_error = %s, notifier = %s WHERE alert_id = %s""",
                    (error.attempts, error.error, notifier, after),
                )
                done.failed.append((key, error.error))
                log.error("alert %s %s; recorded as failed in metadata.alerts, retried at the next tick", key, error)
                return done
            conn.execute(
                """UPDATE metadata.alerts SET status = 'sent', attempts = attempts + %s, last_error = NULL,
                            notifier = %s, sent_at = now() WHERE alert_id = %s""",
                (attempts, notifier, after),
            )
            done.sent.append(key)

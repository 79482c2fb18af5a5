"""Alert and OpenLineage configuration, from the environment like every other setting.

Unset variables default to "log" alerts and no OpenLineage export, so a fresh clone needs no setup;
`dg.EnvVar` keeps the webhook URL (often a secret token) out of the UI.
"""

import logging
from functools import partial

import dagster as dg
import psycopg

from greenhouse_assets import settings
from greenhouse_assets.database import Database
from greenhouse_assets.governance import alerts, openlineage

settings.apply_alert_defaults()  # `dg.EnvVar` needs the unset ones set: "log" alerts, no export


class AlertsNotDelivered(Exception):
    """Some alerts could not be delivered; they are recorded as failed and retried by the next tick."""


class AlertNotifier(dg.ConfigurableResource):
    """`notifier`: log | webhook; `webhook_url`: where webhook alerts are POSTed; `retry_delays`: seconds
    before each retry of a failed POST. What was sent is recorded in `metadata.alerts` of the database the
    caller hands over (the sensor's Postgres resource), as every other resource reaches the platform."""

    notifier: str = "log"
    webhook_url: str = ""
    retry_delays: list[float] = list(alerts.RETRY_DELAYS)

    def _deliver(self, alert: alerts.Alert, log: logging.Logger) -> int:
        return alerts.send(
            alert, notifier=self.notifier, webhook_url=self.webhook_url, log=log, delays=self.retry_delays
        )

    def send_all(self, new: list[alerts.Alert], log: logging.Logger, database: Database) -> alerts.Delivery:
        """Record `new` in `database` (keys already known are skipped), then deliver every alert not yet sent.

        Raises AlertsNotDelivered when an alert could not be delivered (it stays recorded as failed),
        so the tick shows the failure. Without the database the new alerts are still sent, but
        nothing is recorded, so nothing guards against a repeat. If the database goes away between
        an alert's POST and its `sent` mark, that one alert may be sent again later.
        """
        if self.notifier not in alerts.NOTIFIERS:
            raise ValueError(f"GREENHOUSE_ALERT_NOTIFIER={self.notifier!r}: expected one of {alerts.NOTIFIERS}")
        recorded = True
        try:
            with database.connection() as conn:
                alerts.record(conn, new)
        except psycopg.OperationalError as error:
            recorded = False
            log.warning(f"alerts cannot be recorded in metadata.alerts ({error}); sending without dedup")
            done = alerts.Delivery()
            for alert in new:
                try:
                    self._deliver(alert, log)
                    done.sent.append(alert.key)
                except alerts.DeliveryFailed as failed:
                    done.failed.append((alert.key, failed.error))
        else:
            done = alerts.deliver_pending(database.connection, partial(self._deliver, log=log), self.notifier, log)
        if done.failed:
            raise AlertsNotDelivered(
                f"{len(done.sent)} alert(s) sent; not delivered: "
                + "; ".join(f"{key} ({error})" for key, error in done.failed)
                + (
                    ". They stay in metadata.alerts (status failed) and are retried at the next tick."
                    if recorded
                    else ". metadata.alerts was unreachable: nothing recorded, retried at the next tick."
                )
            )
        return done

    def send(self, alert: alerts.Alert, log: logging.Logger, database: Database) -> alerts.Delivery:
        return self.send_all([alert], log, database)


class OpenLineageExport(dg.ConfigurableResource):
    """`url`: an OpenLineage HTTP endpoint (e.g. Marquez); else `file`: JSON lines; neither: export off."""

    url: str = ""
    file: str = ""

    def client(self):
        return openlineage.client(self.url, self.file)


@dg.definitions
def governance_resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "alerts": AlertNotifier(
                notifier=dg.EnvVar("GREENHOUSE_ALERT_NOTIFIER"),
                webhook_url=dg.EnvVar("GREENHOUSE_ALERT_WEBHOOK_URL"),
            ),
            "openlineage": OpenLineageExport(
                url=dg.EnvVar("GREENHOUSE_OPENLINEAGE_URL"), file=dg.EnvVar("GREENHOUSE_OPENLINEAGE_FILE")
            ),
        }
    )

"""Alert and OpenLineage configuration, from the environment like every other setting.

Unset variables default to "log" alerts and no OpenLineage export, so a fresh clone needs no setup;
`dg.EnvVar` keeps the webhook URL (often a secret token) out of the UI.
"""

import os

import dagster as dg

from greenhouse_assets.governance import alerts, openlineage

for _name, _default in (("GREENHOUSE_ALERT_NOTIFIER", "log"), ("GREENHOUSE_ALERT_WEBHOOK_URL", ""),
                        ("GREENHOUSE_OPENLINEAGE_URL", ""), ("GREENHOUSE_OPENLINEAGE_FILE", "")):
    os.environ.setdefault(_name, _default)


class AlertNotifier(dg.ConfigurableResource):
    """`notifier`: log | webhook; `webhook_url`: where webhook alerts are POSTed."""

    notifier: str = "log"
    webhook_url: str = ""

    def send(self, alert: alerts.Alert, log) -> None:
        alerts.send(alert, notifier=self.notifier, webhook_url=self.webhook_url, log=log)


class OpenLineageExport(dg.ConfigurableResource):
    """`url`: an OpenLineage HTTP endpoint (e.g. Marquez); else `file`: JSON lines; neither: export off."""

    url: str = ""
    file: str = ""

    def client(self):
        return openlineage.client(self.url, self.file)


@dg.definitions
def governance_resources() -> dg.Definitions:
    return dg.Definitions(resources={
        "alerts": AlertNotifier(notifier=dg.EnvVar("GREENHOUSE_ALERT_NOTIFIER"),
                                webhook_url=dg.EnvVar("GREENHOUSE_ALERT_WEBHOOK_URL")),
        "openlineage": OpenLineageExport(url=dg.EnvVar("GREENHOUSE_OPENLINEAGE_URL"),
                                         file=dg.EnvVar("GREENHOUSE_OPENLINEAGE_FILE")),
    })

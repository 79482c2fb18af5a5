"""Times that cannot be real, in a module of their own: the staging check's SQL and its suite's text use
them, and the check must not import Great Expectations (quality.suites) to read two constants.

Before 1990, long before these climate computers logged (a clock reset to the epoch, 1970), or more
than a day after the check ran (a clock set ahead; a day covers any time zone mix-up). A reset to a
later date is not caught here: it shows as a back-step (WARN).
"""

EARLIEST_TIME, LATEST_AHEAD = "1990-01-01T00:00:00Z", "1 day"

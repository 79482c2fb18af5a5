"""Files landing together: the landing sensor batches them, several files to a run, one partition each."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from helpers import batch_members, requested_files, run_request
from test_sensor import launch, settle

from greenhouse_assets.database import libpq_url
from greenhouse_assets.defs.ingest.batching import Landing, batch_run_key, plan
from greenhouse_assets.defs.ingest.partitions import file_versions

RAW = dg.AssetKey(["raw", "files"])
KNUDJEPSEN = Path("knudjepsen") / "NO3_LAMPEGRP_1.csv"


@pytest.fixture
def landing(clean_platform, instance, tmp_path) -> Path:
    """An empty landing folder, and no file version known to Dagster yet (the platform database is emptied
    for each test; the session's Dagster instance is not, and a known version is never batched)."""
    for key in instance.get_dynamic_partitions(file_versions.name):
        instance.delete_dynamic_partition(file_versions.name, key)
    return tmp_path / "landing"


def land(landing: Path, real_data: Path, bad: bool) -> dict[str, str]:
    """Five versions new to the session's Dagster instance (path -> expected status); with `bad`, the
    Knudjepsen export is cut off mid-row (an interrupted copy)."""
    morten = "MortenSDUData2.csv" if bad else "MortenSDUData.csv"
    day = 3 if bad else 1
    copies = {
        "a/MortenSDUData.csv": (real_data / "aarslev" / "december2013" / morten).read_bytes(),
        "b/MortenSDUData.csv": (real_data / "aarslev" / "januar2014" / morten).read_bytes(),
        "knudjepsen/NO3_LAMPEGRP_1.csv": (real_data / KNUDJEPSEN).read_bytes(),
        "c/series.csv": f"time,v\n2014-01-0{day} 00:00,1\n2014-01-0{day} 00:10,2\n".encode(),
        "d/series.csv": f"time,v\n2014-01-0{day + 1} 00:00,3\n2014-01-0{day + 1} 00:10,4\n".encode(),
    }
    if bad:
        head = copies["knudjepsen/NO3_LAMPEGRP_1.csv"][:5000]
        copies["knudjepsen/NO3_LAMPEGRP_1.csv"] = head[: head.rfind(b";")]
    for relative, content in copies.items():
        (landing / relative).parent.mkdir(parents=True, exist_ok=True)
        (landing / relative).write_bytes(content)
    return {path: "quarantined" if bad and path.startswith("knudjepsen") else "loaded" for path in copies}


def statuses(url: str) -> dict[str, str]:
    with psycopg.connect(libpq_url(url)) as conn:
        return dict(conn.execute("SELECT path, status FROM metadata.files").fetchall())


def materialized(instance, key: dg.AssetKey) -> dict[str, dict]:
    """partition -> the metadata of its latest materialization of `key`."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=100).records
    latest: dict[str, dict] = {}
    for record in reversed(records):  # newest first: keep the newest per partition
        latest[record.partition_key] = {
            k: v.value for k, v in record.asset_materialization.metadata.items() if k in ("path", "file_id")
        }
    return latest


def evaluations(instance, run_ids: list[str]) -> dict[tuple[str, str], bool]:
    """(partition, check) -> passed, over the runs' check evaluations on the files' own staging tables."""
    found = {}
    for run_id in run_ids:
        for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records:
            evaluation = record.event_log_entry.dagster_event.event_specific_data
            if "skipped" not in evaluation.metadata:
                found[(evaluation.partition, evaluation.check_name)] = evaluation.passed
    return found


def test_files_landing_together_run_in_fewer_runs_each_its_own_partition(landing, instance, real_data, database_url):
    expected = land(landing, real_data, bad=False)
    result = settle(instance, landing, None)

    assert 2 <= len(result.run_requests) < len(expected), "batched, and at least one run per run slot"
    batches = [r for r in result.run_requests if r.partition_key is None]
    assert batches and all(
        ASSET_PARTITION_RANGE_START_TAG in r.tags and ASSET_PARTITION_RANGE_END_TAG in r.tags for r in batches
    )
    keys = requested_files(result.run_requests, landing)
    assert sorted(keys) == sorted(expected) and len(set(keys.values())) == len(expected), "a partition per file"
    added = result.dynamic_partitions_requests[0].partition_keys
    assert sorted(added) == sorted(keys.values())
    for request in batches:  # a range of the keys in the order they are added: exactly the batch's files
        start, end = (
            added.index(request.tags[ASSET_PARTITION_RANGE_START_TAG]),
            added.index(request.tags[ASSET_PARTITION_RANGE_END_TAG]),
        )
        assert added[start : end + 1] == list(batch_members(request))

    runs = launch(instance, result)
    assert [run.success for run in runs] == [True] * len(result.run_requests)
    assert statuses(database_url) == expected
    raw, staged = materialized(instance, RAW), {}
    for source in ("aarslev", "knudjepsen", "generic"):
        staged |= materialized(instance, dg.AssetKey(["staging", f"raw_{source}"]))
    for path, key in keys.items():
        assert raw[key]["path"] == path, "each file's own metadata on its own partition"
        assert staged[key]["path"] == path and staged[key]["file_id"] == raw[key]["file_id"]
    checked = evaluations(instance, [run.run_id for run in runs])
    assert {key for key, _check in checked} == set(keys.values()), "every partition judged on its own"
    assert checked[(keys["a/MortenSDUData.csv"], "timestamps_usable")] is True

    later = settle(instance, landing, result.cursor)
    assert not later.run_requests and not launch(instance, later), "never run twice"
    assert not launch(instance, result), "a re-evaluated tick starts nothing again: same run keys"


def test_a_bad_file_in_a_batch_fails_its_partition_and_not_the_others(landing, instance, real_data, database_url):
    expected = land(landing, real_data, bad=True)
    result = settle(instance, landing, None)
    keys = requested_files(result.run_requests, landing)
    bad = keys["knudjepsen/NO3_LAMPEGRP_1.csv"]
    [bad_run] = [r for r in result.run_requests if bad in batch_members(r)]
    assert len(batch_members(bad_run)) > 1, "the bad file shares its run"

    runs = launch(instance, result)
    assert statuses(database_url) == expected, "the good files are loaded, the bad one quarantined"
    [failed] = [run for run in runs if not run.success]
    failure = next(e for e in failed.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    description = failure.step_failure_data.user_failure_data.description
    assert "NO3_LAMPEGRP_1.csv" in description and bad in description and "quarantined" in description

    good = [key for key in keys.values() if key != bad]
    status = instance.get_status_by_partition(RAW, list(keys.values()), file_versions)
    assert status[bad] == dg.AssetPartitionStatus.FAILED
    assert all(status[key] == dg.AssetPartitionStatus.MATERIALIZED for key in good)
    checked = evaluations(instance, [run.run_id for run in runs])
    assert {key for key, _check in checked} == set(good), "the good files are judged, in the failed run too"
    assert not settle(instance, landing, result.cursor).run_requests, "never run twice"

    again = run_request(instance, bad_run)  # what Re-execute → From failure runs: the batch's step again
    assert not again.success, "the bad file is still bad"
    with psycopg.connect(libpq_url(database_url)) as conn:
        rows = conn.execute("SELECT status, count(*) FROM metadata.files GROUP BY 1").fetchall()
    assert dict(rows).get("duplicate") is None and dict(rows)["loaded"] == len(good), "the good files not again"


def landings(*keys: str) -> list[Landing]:
    return [Landing(f"run-{i}-{key}", key, "generic", f"f{i}.csv", key) for i, key in enumerate(keys)]


@pytest.mark.pure
def test_new_versions_are_split_into_batches_for_both_run_slots_and_known_ones_run_alone():
    assert plan(landings("k0"), set(), 12) == (["k0"], [landings("k0")]), "a file alone starts as today"
    new, runs = plan(landings(*(f"k{i}" for i in range(30))), set(), 12)
    assert [len(run) for run in runs] == [10, 10, 10], "at most 12 a run, evenly"
    assert [landing.partition_key for run in runs for landing in run] == new, "each run a range of the added keys"
    assert [len(run) for run in plan(landings("k0", "k1", "k2"), set(), 12)[1]] == [2, 1], "both run slots work"
    new, runs = plan(landings("k0", "known", "k1", "k0"), {"known"}, 12)
    assert new == ["k0", "k1"]
    assert [[landing.run_key for landing in run] for run in runs] == [
        ["run-0-k0"],
        ["run-1-known"],
        ["run-2-k1"],
        ["run-3-k0"],
    ]
    assert batch_run_key(landings("a", "b")) == batch_run_key(landings("a", "b")) != batch_run_key(landings("a", "c"))

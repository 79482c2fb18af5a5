"""The lake on object storage: ingest -> staging through real Dagster runs with `GREENHOUSE_LAKE_URL=s3://...`,
against a real S3 server (SeaweedFS) on loopback."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
import time
import uuid
from pathlib import Path

import dagster as dg
import psycopg
import pyarrow.parquet as pq
import pytest
import s3fs
import seaweed
from psycopg import sql

from greenhouse_assets.database import At, libpq_url
from greenhouse_assets.in_process import ingest_file
from greenhouse_assets.ingest.lake_store import LakeIntegrityError, LakeStore, open_uri
from greenhouse_assets.ingest.pipeline import receive_file
from greenhouse_assets.ingest.registry import SourceRegistry

REGISTRY = SourceRegistry.load()
FILES = [
    "knudjepsen/NO3_LAMPEGRP_1.csv",
    "aarslev/december2013/MortenSDUData.csv",
    "aarslev/celle5/output-2014-03-01-00-00.csv",
    "aarslev/celle5/output-2014-03-01-00-00.csv.json",
]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = seaweed.start(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()


@pytest.fixture
def s3_lake(s3_server, clean_platform, monkeypatch, tmp_path) -> str:
    """A bucket of this test's own, and the lake under a prefix in it, configured the usual AWS way."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed.ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed.SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("GREENHOUSE_LAKE_SPOOL", str(tmp_path / "spool"))
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    _fs().mkdir(bucket)
    url = f"s3://{bucket}/greenhouse"
    monkeypatch.setenv("GREENHOUSE_LAKE_URL", url)
    return url


def _fs() -> s3fs.S3FileSystem:
    s3fs.S3FileSystem.clear_instance_cache()
    return LakeStore("s3://probe").fs


def _query(url: str, query, params=()) -> list[tuple]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(query, params).fetchall()


def _land(landing: Path, source: Path, relative: str) -> Path:
    dest = landing / relative
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    return dest


def _stored_checksum(uri: str) -> str:
    """The SHA-256 the S3 server keeps for the object, as hex."""
    fs = _fs()
    bucket, key, _ = fs.split_path(uri)
    head = fs.call_s3("head_object", Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    return base64.b64decode(head["ChecksumSHA256"]).hex()


def _raw_metadata(instance: dg.DagsterInstance, run_id: str) -> dict:
    (event,) = [
        e
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        if e.asset_materialization.asset_key == dg.AssetKey(["raw", "files"])
    ]
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def test_real_files_go_through_staging_with_the_lake_on_s3(s3_lake, instance, real_data, database_url, tmp_path):
    landing = tmp_path / "landing"
    reports = [ingest_file(_land(landing, real_data / f, f), instance, REGISTRY) for f in FILES]
    assert [r["status"] for r in reports] == ["loaded"] * len(FILES), reports

    bucket = s3_lake.removeprefix("s3://").split("/")[0]
    for relative, report in zip(FILES, reports):
        content = (real_data / relative).read_bytes()
        sha = hashlib.sha256(content).hexdigest()
        raw_uri, parquet_uri, stored_sha, rows_staged = _query(
            database_url,
            "SELECT raw_uri, parquet_uri, sha256, rows_staged FROM metadata.files WHERE file_id = %s",
            (report["file_id"],),
        )[0]
        assert stored_sha == sha
        # The original at its contract key, byte for byte, with the server's own checksum equal to the content's.
        suffix = Path(relative).suffix.lower()
        assert raw_uri.startswith(f"{s3_lake}/raw/{report['source']}/") and raw_uri.endswith(f"/{sha}{suffix}")
        with open_uri(raw_uri) as handle:
            assert handle.read() == content
        assert _stored_checksum(raw_uri) == sha
        assert parquet_uri == f"{s3_lake}/parquet/{report['source']}/{sha}.parquet"
        with open_uri(parquet_uri) as handle:
            assert pq.read_metadata(handle).num_rows == report["rows"] == rows_staged > 0
        staged = _query(
            database_url,
            sql.SQL("SELECT count(*) FROM staging.{} WHERE _file_id = %s").format(
                sql.Identifier(f"raw_{report['source']}")
            ),
            (report["file_id"],),
        )[0][0]
        assert staged == rows_staged
        metadata = _raw_metadata(instance, report["run_id"])
        assert (metadata["dagster/uri"], metadata["original_uri"]) == (parquet_uri, raw_uri)
    assert not any(Path(tmp_path / "spool").rglob("*")), "the spool is emptied after each upload"
    assert _fs().ls(f"{bucket}/greenhouse") and not list((tmp_path).glob("lake*")), "nothing written to a local lake"


def test_an_original_on_s3_is_never_overwritten(s3_lake, instance, real_data, database_url, tmp_path):
    landing = tmp_path / "landing"
    relative = "aarslev/december2013/MortenSDUData.csv"
    first = ingest_file(_land(landing, real_data / relative, relative), instance, REGISTRY)
    (raw_uri,) = _query(database_url, "SELECT raw_uri FROM metadata.files WHERE file_id = %s", (first["file_id"],))[0]
    fs = _fs()
    before = fs.info(raw_uri)

    again = ingest_file(_land(landing, real_data / relative, "aarslev/copy/MortenSDUData.csv"), instance, REGISTRY)
    assert again["status"] == "duplicate"
    time.sleep(1.1)  # S3 keeps LastModified to the second: a rewrite now would show
    # Parsed again (as a re-materialization from the UI does): the original's key is not written again.
    reprocessed = receive_file(
        landing / relative,
        landing_root=landing,
        store=LakeStore(s3_lake),
        database=At(database_url),
        registry=REGISTRY,
        reprocess=True,
    )
    assert (reprocessed.status, reprocessed.raw_uri) == ("received", raw_uri)
    # Offered other bytes under that key, the conditional write is refused and the stored object stays.
    impostor = tmp_path / "impostor"
    impostor.write_bytes(b"not the original")
    sha = hashlib.sha256((real_data / relative).read_bytes()).hexdigest()
    assert LakeStore(s3_lake).put_once(impostor, raw_uri.removeprefix(f"{s3_lake}/"), sha) == raw_uri
    assert not impostor.exists(), "the spooled copy is removed either way"
    after = fs.info(raw_uri)
    assert (after["ETag"], after["LastModified"]) == (before["ETag"], before["LastModified"])
    with open_uri(raw_uri) as handle:
        assert handle.read() == (real_data / relative).read_bytes()


def test_verification_catches_a_stored_object_that_is_not_the_content(s3_lake, tmp_path):
    store = LakeStore(s3_lake)
    spooled = tmp_path / "x.csv"
    spooled.write_bytes(b"time;value\n")
    with pytest.raises(LakeIntegrityError):  # the server checks the checksum sent with the PUT
        store.put_once(spooled, "raw/test/x.csv", hashlib.sha256(b"other content").hexdigest())
    assert not store.exists("raw/test/x.csv") and not spooled.exists()
    spooled.write_bytes(b"time;value\n")
    store.put_once(spooled, "raw/test/y.csv", hashlib.sha256(b"time;value\n").hexdigest())
    with pytest.raises(LakeIntegrityError):  # and the stored object's checksum is compared after the write
        store.verify("raw/test/y.csv", hashlib.sha256(b"other content").hexdigest())


def test_a_bad_file_lands_in_the_s3_quarantine_prefix(s3_lake, instance, database_url, tmp_path):
    landing = tmp_path / "landing"
    bad = landing / "generic" / "export.csv"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(gzip.compress(b"time;value\n2014-01-01 00:00;1\n"))

    report = ingest_file(bad, instance, REGISTRY)

    assert report["status"] == "quarantined" and "gzip" in report["error"]
    sha = hashlib.sha256(bad.read_bytes()).hexdigest()
    (uri, detail) = _query(
        database_url, "SELECT raw_uri, error_detail FROM metadata.files WHERE file_id = %s", (report["file_id"],)
    )[0]
    assert uri == f"{s3_lake}/quarantine/generic/{sha}.csv"
    with open_uri(uri) as handle:
        assert handle.read() == bad.read_bytes()
    assert _stored_checksum(uri) == sha
    with open_uri(uri + ".error.json") as handle:
        report_json = json.loads(handle.read())
    assert report_json["source_path"] == str(bad.resolve()) and report_json["message"] == detail["message"]


def test_reruns_from_the_ui_read_the_parquet_and_the_original_from_s3(
    s3_lake, instance, real_data, database_url, tmp_path
):
    """Staging alone re-loads the version's Parquet from S3; raw without a path and without the landed file
    parses the lake's original again (downloaded for the run)."""
    from greenhouse_assets.definitions import defs
    from greenhouse_assets.defs.ingest.raw import RAW_FILES
    from greenhouse_assets.defs.ingest.staging import staging_key

    relative = "aarslev/december2013/MortenSDUData.csv"
    path = _land(tmp_path / "landing", real_data / relative, relative)
    report = ingest_file(path, instance, REGISTRY)
    (partition,) = _query(
        database_url, "SELECT partition_key FROM metadata.files WHERE file_id = %s", (report["file_id"],)
    )[0]
    job = defs.resolve_job_def("ingest_file")

    def run(selection):
        return job.execute_in_process(instance=instance, partition_key=partition, asset_selection=selection)

    assert run([staging_key("aarslev")]).success
    path.unlink()
    assert run([RAW_FILES, staging_key("aarslev")]).success
    assert _query(database_url, "SELECT _file_id, _status, count(*) FROM staging.raw_aarslev GROUP BY 1, 2") == [
        (report["file_id"], "loaded", report["rows"])
    ]
    assert _query(database_url, "SELECT count(*) FROM metadata.audit_log WHERE asset = 'staging/raw_aarslev'") == [(3,)]
    assert not any((tmp_path / "spool").rglob("*")), "the download is removed after the run"

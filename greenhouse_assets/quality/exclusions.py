"""File versions a blocking staging check keeps out of the time series (`metadata.files.excluded_by_check`).

A check runs per file version, so its failure is the version's, not the source's: the version stays
`loaded` and staged, is marked here with the check's name and what it found, and the `measurements`
model skips it (`measurements_prepare` reads only versions with `excluded_by_check IS NULL`). Every
other version flows on. The same check passing again (re-run after a fix, or the staging partition
re-materialized) clears the mark; a fixed file landed again is a new version that supersedes it.
"""

from __future__ import annotations

import psycopg


def exclude(conn: psycopg.Connection, file_id: int, check: str, reason: str) -> None:
    conn.execute(
        """UPDATE metadata.files SET excluded_by_check = %s, exclusion_reason = %s, excluded_at = now()
           WHERE file_id = %s""",
        (check, reason, file_id),
    )


def clear(conn: psycopg.Connection, file_id: int, check: str) -> bool:
    """Lift `check`'s exclusion of the version; True if there was one."""
    return (
        conn.execute(
            """UPDATE metadata.files SET excluded_by_check = NULL, exclusion_reason = NULL, excluded_at = NULL
           WHERE file_id = %s AND excluded_by_check = %s""",
            (file_id, check),
        ).rowcount
        > 0
    )


def excluded(conn: psycopg.Connection) -> list[dict]:
    """The loaded, active versions the time series currently leaves out, oldest first."""
    rows = conn.execute(
        """SELECT file_id, source, path, excluded_by_check, exclusion_reason, excluded_at FROM metadata.files
           WHERE excluded_by_check IS NOT NULL AND is_active AND status = 'loaded' ORDER BY file_id"""
    ).fetchall()
    return [
        {
            "file_id": r[0],
            "source": r[1],
            "path": r[2],
            "check": r[3],
            "reason": r[4],
            "excluded_at": r[5].isoformat() if r[5] else None,
        }
        for r in rows
    ]

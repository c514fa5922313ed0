"""The ledger's schema, versioned: ``schema_version`` holds the version; MIGRATIONS[v] turns
version v-1 into v. A ledger of a newer version than this tool knows is refused (one line),
never written.

One row per identity (``identities``): what was claimed (serial number, discriminator and
passcode, rd_uid, DAC serial), the device key's SHA-256 once known, and its life
(``claimed`` -> ``issued`` -> ``ok`` / ``failed`` / ``scrapped``; ``void``: claimed but never
built, so no DAC left the station). Version 2 adds the last ``attest`` result of a device
(``pass`` or ``fail: <first reason>``), when (``attested_at``) and where (``attest_station``);
an attest run never changes ``state``. Every value that must be unique has a UNIQUE constraint;
NULLs (a value the station never sees, such as the passcode of a CSR board) do not collide.
"""

from __future__ import annotations

SCHEMA_VERSION = 2

STATES = ("claimed", "issued", "ok", "failed", "scrapped", "void")
#: States of a device whose outcome was never reported.
UNREPORTED = ("claimed", "issued")
#: Reports a station or line script may give.
REPORTS = ("ok", "failed", "scrapped")

_TYPES = {
    "sqlite": {"id": "INTEGER PRIMARY KEY", "blob": "BLOB", "ref": "INTEGER"},
    "postgresql": {"id": "BIGSERIAL PRIMARY KEY", "blob": "BYTEA", "ref": "BIGINT"},
}

_STATES_SQL = ", ".join(f"'{s}'" for s in STATES)

MIGRATIONS = {
    1: [
        "CREATE TABLE schema_version (version INTEGER NOT NULL)",
        "CREATE TABLE lots ("
        " id {id},"
        " name TEXT NOT NULL UNIQUE,"
        " kind TEXT NOT NULL,"
        " station TEXT NOT NULL,"
        " created_at TEXT NOT NULL)",
        "CREATE TABLE identities ("
        " id {id},"
        " token TEXT NOT NULL UNIQUE,"
        " lot_id {ref} NOT NULL REFERENCES lots(id),"
        " idx INTEGER,"
        " sn TEXT NOT NULL UNIQUE,"
        " discriminator INTEGER,"
        " passcode INTEGER,"
        " rd_uid TEXT UNIQUE,"
        " dac_serial TEXT NOT NULL UNIQUE,"
        " pubkey_sha256 TEXT UNIQUE,"
        " pai_sha256 TEXT NOT NULL,"
        " dac {blob},"
        f" state TEXT NOT NULL CHECK (state IN ({_STATES_SQL})),"
        " station TEXT NOT NULL,"
        " claimed_at TEXT NOT NULL,"
        " issued_at TEXT,"
        " reported_at TEXT,"
        " image_sha256 TEXT,"
        " readback TEXT,"
        " note TEXT,"
        " UNIQUE (discriminator, passcode))",
        "CREATE INDEX identities_lot ON identities (lot_id, idx)",
        "CREATE INDEX identities_state ON identities (state)",
    ],
    2: [  # ``attest --ledger``: plain ALTER TABLE ... ADD COLUMN, valid on SQLite and PostgreSQL
        "ALTER TABLE identities ADD COLUMN attest TEXT",
        "ALTER TABLE identities ADD COLUMN attested_at TEXT",
        "ALTER TABLE identities ADD COLUMN attest_station TEXT",
    ],
}


def statements(version: int, dialect: str) -> list:
    types = _TYPES[dialect]
    return [s.format(**types) for s in MIGRATIONS[version]]

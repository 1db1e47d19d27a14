"""The origin story's baseline: the Django ORM moving a table from the old MySQL database to
the new PostgreSQL one, row by row with save() or in batches with bulk_create.

Set up as the blog did it: two DATABASES, models written by `inspectdb` from each database
(the old table as it is, the new one as barge bench created it), renamed `Old…` and `New…`,
and a router that sends each model to its database by that prefix. Any table with a primary
key works; foreign keys become plain integer fields (the other tables are not modelled).

Run by `barge bench` (strategies django-row and django-bulk) inside a virtualenv with Django,
psycopg2 and PyMySQL. Connection URLs come from BARGE_FROM / BARGE_TO (never argv).
Prints one JSON line: {"rows": N, "seconds": S} for the timed copy loop.
"""

import argparse
import io
import json
import os
import re
import time
from urllib.parse import unquote, urlparse

import pymysql

pymysql.install_as_MySQLdb()

import django  # noqa: E402
from django.conf import settings  # noqa: E402


def database(url, engine, options):
    u = urlparse(url)
    return {
        "ENGINE": engine,
        "NAME": unquote(u.path.lstrip("/")),
        "USER": unquote(u.username or ""),
        "PASSWORD": unquote(u.password or ""),
        "HOST": u.hostname,
        "PORT": str(u.port or ""),
        "OPTIONS": options,
    }


class Router:
    """The blog's router: New* models live in 'new', everything else in 'default' (old)."""

    def db_for_read(self, model, **hints):
        return "new" if model.__name__.startswith("New") else "default"

    def db_for_write(self, model, **hints):
        return "new" if model.__name__.startswith("New") else "default"


FOREIGN_KEY = re.compile(
    r"^(\s+)(\w+) = models\.(?:ForeignKey|OneToOneField)\((?:'[^']*'|\w+), models\.\w+(.*)\)(\s*#.*)?$"
)
# The commas between keyword arguments, not those inside their quoted values.
ARGUMENT_COMMA = re.compile(r",(?=(?:[^']*'[^']*')*[^']*$)")


def model(table, alias, prefix):
    """The model `inspectdb` writes for `table` in database `alias`, named prefix + its name."""
    from django.core.management import call_command

    out = io.StringIO()
    call_command("inspectdb", table, database=alias, stdout=out)
    lines = []
    for line in out.getvalue().splitlines():
        m = FOREIGN_KEY.match(line)
        if m:
            indent, name, rest, comment = m.groups()
            kwargs = [k.strip() for k in ARGUMENT_COMMA.split(rest) if k.strip()]
            kwargs = [k for k in kwargs if not k.startswith(("related_name=", "to_field="))]
            if not any(k.startswith("db_column=") for k in kwargs):
                kwargs.append(f"db_column='{name}_id'")
            line = f"{indent}{name} = models.BigIntegerField({', '.join(kwargs)}){comment or ''}"
        line = re.sub(r"^class (\w+)\(models\.Model\):", rf"class {prefix}\1(models.Model):", line)
        lines.append(line)
        if line.strip() == "class Meta:":
            lines.append(line[: len(line) - len(line.lstrip())] + "    app_label = 'bench'")
    source = "\n".join(lines)
    namespace = {"__name__": f"bench_{alias}"}
    exec(compile(source, f"<inspectdb {alias}.{table}>", "exec"), namespace)
    found = [v for k, v in namespace.items() if k.startswith(prefix) and isinstance(v, type)]
    if len(found) != 1:
        raise SystemExit(f"inspectdb wrote no model for {table} in {alias}:\n{source}")
    return found[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--schema", required=True)
    p.add_argument("--table", required=True, help="the table in the old (MySQL) database")
    p.add_argument("--target", help="its name in the new schema (default: the same)")
    p.add_argument("--mode", choices=["row", "bulk"], required=True)
    p.add_argument("--limit", type=int, default=0)
    args = p.parse_args()

    settings.configure(
        DATABASES={
            # utf8mb4: Django's MySQL default (utf8 = utf8mb3) turns every emoji into '?'.
            "default": database(os.environ["BARGE_FROM"], "django.db.backends.mysql", {"charset": "utf8mb4"}),
            "new": database(
                os.environ["BARGE_TO"],
                "django.db.backends.postgresql",
                {"options": f"-c search_path={args.schema}"},
            ),
        },
        DATABASE_ROUTERS=[Router()],
        INSTALLED_APPS=[],
        USE_TZ=False,
        # As `startproject` writes it. With Django's global default (America/Chicago),
        # bulk_create on PostgreSQL (UNNEST arrays, Django 5.2) shifts naive times that fall
        # in a DST gap by an hour; barge bench's checksum caught 58 such rows in 250k.
        TIME_ZONE="UTC",
    )
    django.setup()
    from django.db import transaction

    Old = model(args.table, "default", "Old")
    New = model(args.target or args.table, "new", "New")
    # Values go from old field to new field by column; a field whose type differs between
    # the two (MySQL's TINYINT(1) read as an integer, PostgreSQL's boolean) is converted as
    # Django would convert a form's value.
    old_by_column = {f.column: f for f in Old._meta.concrete_fields}
    pairs = []
    for f in New._meta.concrete_fields:
        o = old_by_column.get(f.column)
        if o is None:
            raise SystemExit(f"column {f.column} of the new table is not in the old one")
        pairs.append((f.attname, o.attname, f if type(f) is not type(o) else None))

    def copy_of(old):
        values = {}
        for new_name, old_name, convert in pairs:
            v = getattr(old, old_name)
            values[new_name] = convert.to_python(v) if convert is not None and v is not None else v
        return New(**values)

    source = Old.objects.order_by("pk")
    if args.limit:
        source = source[: args.limit]
    started = time.perf_counter()
    n = 0
    if args.mode == "row":
        for old in source.iterator(chunk_size=2000):
            copy_of(old).save(force_insert=True)
            n += 1
    else:
        batch = []
        with transaction.atomic(using="new"):
            for old in source.iterator(chunk_size=2000):
                batch.append(copy_of(old))
                if len(batch) == 1000:
                    New.objects.bulk_create(batch)
                    n += len(batch)
                    batch = []
            if batch:
                New.objects.bulk_create(batch)
                n += len(batch)
    print(json.dumps({"rows": n, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()

"""The origin story's baseline: the Django ORM moving `characters` from the old MySQL database
to the new PostgreSQL one, row by row with save() or in batches with bulk_create.

Set up as the blog did it: two DATABASES, a router that sends models whose name starts with
`Old` to the old database and `New` to the new one, and the same table modelled twice.

Run by `barge bench` (strategies django-row and django-bulk) inside a virtualenv with Django,
psycopg2 and PyMySQL. Connection URLs come from BARGE_FROM / BARGE_TO (never argv).
Prints one JSON line: {"rows": N, "seconds": S} for the timed copy loop.
"""

import argparse
import json
import os
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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--schema", required=True)
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
    from django.db import models, transaction

    def fields():
        return {
            "id": models.BigAutoField(primary_key=True),
            "name": models.CharField(max_length=255),
            "publisher_id": models.BigIntegerField(null=True),
            "alignment": models.CharField(max_length=20, null=True),
            "first_appearance": models.DateField(null=True),
            "power_level": models.IntegerField(null=True),
            "biography": models.TextField(null=True),
            "active": models.BooleanField(),
            "created_at": models.DateTimeField(),
            "updated_at": models.DateTimeField(),
            "__module__": __name__,
        }

    meta = {"db_table": "characters", "managed": False, "app_label": "bench"}
    OldCharacter = type("OldCharacter", (models.Model,), {**fields(), "Meta": type("Meta", (), meta)})
    NewCharacter = type("NewCharacter", (models.Model,), {**fields(), "Meta": type("Meta", (), meta)})
    names = [f.attname for f in OldCharacter._meta.concrete_fields]

    source = OldCharacter.objects.order_by("id")
    if args.limit:
        source = source[: args.limit]
    started = time.perf_counter()
    n = 0
    if args.mode == "row":
        for old in source.iterator(chunk_size=2000):
            NewCharacter(**{k: getattr(old, k) for k in names}).save(force_insert=True)
            n += 1
    else:
        batch = []
        with transaction.atomic(using="new"):
            for old in source.iterator(chunk_size=2000):
                batch.append(NewCharacter(**{k: getattr(old, k) for k in names}))
                if len(batch) == 1000:
                    NewCharacter.objects.bulk_create(batch)
                    n += len(batch)
                    batch = []
            if batch:
                NewCharacter.objects.bulk_create(batch)
                n += len(batch)
    print(json.dumps({"rows": n, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()

"""English and Spanish (issue 21): the catalogue is complete, and the language follows the reader.

The back-office and the API's messages are written with Django's gettext; the Spanish
catalogue is ``locale/es/LC_MESSAGES/django.po``, compiled to the committed ``django.mo``
(``make messages``). The language is the admin's language switch (Django's ``set_language``
cookie), else the browser's ``Accept-Language``, else English. The API's ``code`` fields
stay English whatever the language: clients branch on them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import polib
import pytest
from django.conf import settings

from inventory.tests.factories import SparePartFactory

ROOT = Path(settings.BASE_DIR)
CATALOGUE = ROOT / "locale" / "es" / "LC_MESSAGES"
COPIED = ("manage.py", "maintenance", "inventory", "orders", "media_uploads", "locale")
SPANISH = {"HTTP_ACCEPT_LANGUAGE": "es-CO,es;q=0.9,en;q=0.5"}


def _key(entry: polib.POEntry) -> tuple:
    return (entry.msgctxt, entry.msgid, entry.msgid_plural)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> polib.POFile:
    """The catalogue as ``manage.py messages`` makes it from the code now, in a copy of the tree."""
    tree = tmp_path_factory.mktemp("catalogue")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, tree / name)
    env = {
        **os.environ,
        "SECRET_KEY": "messages-only",
        "DATABASE_URL": "postgres://messages@localhost/messages",
        "AWS_STORAGE_BUCKET_NAME": "messages",
        "DJANGO_SETTINGS_MODULE": "maintenance.settings",
    }
    subprocess.run(
        [sys.executable, "manage.py", "messages", "--no-compile", "-v0"], cwd=tree, env=env, check=True, timeout=120
    )
    return polib.pofile(str(tree / "locale" / "es" / "LC_MESSAGES" / "django.po"))


def test_every_message_the_code_uses_has_a_spanish_translation(extracted):
    # A new or changed message in the code arrives untranslated (or fuzzy, matched to an old one).
    untranslated = [entry.msgid for entry in extracted.untranslated_entries()]
    fuzzy = [entry.msgid for entry in extracted.fuzzy_entries()]
    assert not untranslated, f"no Spanish translation (run `make messages`, then translate): {untranslated}"
    assert not fuzzy, f"fuzzy (check the translation, remove the flag): {fuzzy}"
    assert len(extracted) > 200  # the extraction found the code's messages


def test_the_committed_catalogue_is_the_extracted_one(extracted):
    committed = polib.pofile(str(CATALOGUE / "django.po"))
    assert {_key(entry) for entry in committed} == {_key(entry) for entry in extracted}, (
        "locale/es is not up to date with the code: run `make messages`"
    )


def test_the_compiled_catalogue_matches_its_source():
    # Django reads the .mo: a .po translated but not compiled changes nothing on the pages.
    def translations(catalogue):
        return {
            _key(entry): entry.msgstr_plural if entry.msgid_plural else entry.msgstr
            for entry in catalogue
            if entry.msgid and not entry.obsolete
        }

    source = translations(polib.pofile(str(CATALOGUE / "django.po")))
    compiled = translations(polib.mofile(str(CATALOGUE / "django.mo")))
    # polib reads a .mo's plural forms with string keys... or int ones: compare their values.
    normalise = {key: sorted(v.values()) if isinstance(v, dict) else v for key, v in compiled.items()}
    assert normalise == {key: sorted(v.values()) if isinstance(v, dict) else v for key, v in source.items()}, (
        "django.mo is older than django.po: run `make messages`"
    )


# --- the language follows the reader --------------------------------------------


def test_the_admin_speaks_the_browsers_language(staff):
    english = staff.get("/admin/").content.decode()
    spanish = staff.get("/admin/", **SPANISH)
    assert 'lang="en"' in english and "Workshop dashboard" in english
    assert spanish["Content-Language"] == "es"
    page = spanish.content.decode()
    assert 'lang="es"' in page
    assert "Panel del taller" in page and "Órdenes de servicio" in page and "Inventario" in page
    assert "Workshop dashboard" not in page


def test_the_language_switch_keeps_the_choice_over_the_browsers(staff):
    response = staff.post("/i18n/setlang/", {"language": "es", "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    page = staff.get("/admin/inventory/sparepart/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Recibir o ajustar existencias" in page
    assert 'id="language-switch"' in page
    staff.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    assert "Receive or adjust stock" in staff.get("/admin/inventory/sparepart/", **SPANISH).content.decode()


def test_an_oversell_is_refused_in_spanish_with_its_code_in_english(api):
    part = SparePartFactory(name="Rodamiento 6204", price=Decimal("4.00"), stock=2)
    order = {"request_id": "es-1", "items": [{"spare_part_id": part.pk, "quantity": 5}]}
    response = api.post("/api/v1/orders/", order, format="json", **SPANISH)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "insufficient_stock"
    assert body["detail"] == (
        f"Existencias insuficientes de 'Rodamiento 6204' (SKU: {part.sku}). Disponibles: 2, Solicitadas: 5"
    )
    assert (body["sku"], body["available"], body["requested"]) == (part.sku, 2, 5)
    assert response["Content-Language"] == "es"
    # Without a preference the answer stays English.
    english = api.post("/api/v1/orders/", {**order, "request_id": "en-1"}, format="json").json()
    assert english["detail"].startswith("Insufficient stock for 'Rodamiento 6204'")


def test_an_invalid_transition_names_the_statuses_in_spanish(api):
    part = SparePartFactory(stock=5)
    order = api.post(
        "/api/v1/orders/", {"request_id": "es-2", "items": [{"spare_part_id": part.pk, "quantity": 1}]}, format="json"
    ).json()
    response = api.patch(f"/api/v1/orders/{order['id']}/", {"status": "completed"}, format="json", **SPANISH)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "invalid_transition"
    assert body["allowed"] == ["in_progress", "cancelled"]
    assert body["detail"] == (
        f"No se puede pasar la orden {order['id']} de Pendiente a Completada. "
        "Estados siguientes permitidos: En curso, Cancelada."
    )


def test_drf_validation_messages_follow_the_language_too(api):
    # DRF ships its own Spanish catalogue; the field names (the keys) stay as the API spells them.
    response = api.post("/api/v1/orders/", {"request_id": "es-3", "items": []}, format="json", **SPANISH)
    assert response.status_code == 400
    assert response.json() == {"items": {"non_field_errors": ["Esta lista no puede estar vacía."]}}

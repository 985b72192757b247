"""The photo admin: list with thumbnails, upload validated by content, delete removing the objects."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from inventory.tests.factories import SparePartFactory
from media_uploads.models import ServiceOrderImage
from orders import services as order_services
from orders import services as orders

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:media_uploads_serviceorderimage_changelist")
ADD = reverse("admin:media_uploads_serviceorderimage_add")


@pytest.fixture
def order():
    part = SparePartFactory(stock=10)
    return orders.place_order(request_id="photos", items=[{"spare_part_id": part.pk, "quantity": 1}]).order


def image_bytes(fmt="PNG", size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, format=fmt)
    return buffer.getvalue()


def test_changelist_shows_signed_thumbnails_with_constant_queries(staff, order):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = staff.get(CHANGELIST)
        assert response.status_code == 200
        return len(queries), response.content.decode()

    order_services.upload_order_image(order.pk, data=image_bytes(), original_name="a.png")
    few, html = count_queries()
    assert "_thumb.jpg" in html and "X-Amz-Signature" in html
    for n in range(4):
        order_services.upload_order_image(order.pk, data=image_bytes("JPEG"), original_name=f"b{n}.jpg")
    assert count_queries()[0] == few


def test_upload_from_the_admin(staff, superuser, order):
    assert staff.get(ADD).status_code == 200
    upload = SimpleUploadedFile("photo.webp", image_bytes("WEBP"), content_type="application/octet-stream")
    response = staff.post(ADD, {"order": order.pk, "file": upload})
    assert response.status_code == 302, response.content.decode()[:2000]
    image = ServiceOrderImage.objects.get()
    # Stored as JPEG: a WebP is encoded again as JPEG (PNG when it has transparency).
    assert (image.order, image.content_type, image.uploaded_by) == (order, "image/jpeg", superuser)
    assert image.image.name.endswith(".jpg") and default_storage.exists(image.thumbnail.name)
    detail = staff.get(reverse("admin:media_uploads_serviceorderimage_change", args=[image.pk]))
    assert detail.status_code == 200
    assert "X-Amz-Signature" in detail.content.decode()


def test_upload_of_a_non_image_is_a_form_error(staff, order):
    fake = SimpleUploadedFile("evil.png", b"<?php echo 1; ?>", content_type="image/png")
    response = staff.post(ADD, {"order": order.pk, "file": fake})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["file"] == ["The file is not a valid image."]
    assert not ServiceOrderImage.objects.exists()


def test_oversized_upload_is_a_form_error(staff, order, settings):
    settings.MAX_IMAGE_UPLOAD_BYTES = 100
    upload = SimpleUploadedFile("big.png", image_bytes(size=(200, 200)), content_type="image/png")
    response = staff.post(ADD, {"order": order.pk, "file": upload})
    assert response.status_code == 200
    assert "larger than the limit of 100 bytes" in response.context["adminform"].form.errors["file"][0]
    assert not ServiceOrderImage.objects.exists()


def test_delete_from_the_admin_removes_the_objects(staff, order, django_capture_on_commit_callbacks):
    image = order_services.upload_order_image(order.pk, data=image_bytes(), original_name="a.png")
    names = [image.image.name, image.thumbnail.name]
    url = reverse("admin:media_uploads_serviceorderimage_delete", args=[image.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not ServiceOrderImage.objects.exists()
    assert not any(default_storage.exists(name) for name in names)

"""Input serializers with cloned fields validate exactly as with DRF's deep copies."""

import threading

import pytest
from rest_framework import serializers

from maintenance.serializers import clone_field
from orders.serializers import OrderCreateSerializer, OrderLineInputSerializer, OrderUpdateSerializer


def deep_copied(serializer_class):
    """The same serializer with DRF's own ``get_fields`` (deep copies of the declared fields)."""
    return type(
        f"Drf{serializer_class.__name__}", (serializer_class,), {"get_fields": serializers.Serializer.get_fields}
    )


BODIES = [
    {"request_id": "r-1", "items": [{"spare_part_id": 1, "quantity": 2}], "client_email": "a@example.com"},
    {"request_id": 17, "client_name": "Ana", "items": [{"spare_part_id": "3", "quantity": "1"}]},
    {},
    {"request_id": "", "items": []},
    {"request_id": "x" * 300, "client_email": "not-an-email", "client_name": "n" * 201, "items": "nope"},
    {"request_id": "a\x00b", "items": [{"spare_part_id": 0, "quantity": 10**9}, {"quantity": -1}, "x"]},
    {"request_id": None, "items": [{"spare_part_id": 2**63, "quantity": 1.5}], "description": None},
    {"status": "completed", "client_phone": "1" * 51},
    {"status": "nowhere"},
]


@pytest.mark.parametrize("serializer_class", [OrderCreateSerializer, OrderUpdateSerializer, OrderLineInputSerializer])
@pytest.mark.parametrize("body", BODIES)
def test_same_validation_as_deep_copied_fields(serializer_class, body):
    ours, drf = serializer_class(data=body), deep_copied(serializer_class)(data=body)
    assert ours.is_valid() == drf.is_valid()
    assert ours.errors == drf.errors
    if not ours.errors:
        assert ours.validated_data == drf.validated_data


def test_every_instance_gets_its_own_bound_fields_and_the_declared_ones_stay_unbound():
    first, second = OrderCreateSerializer(data={}), OrderCreateSerializer(data={})
    for name, field in first.fields.items():
        other = second.fields[name]
        assert field is not other and field.parent is first and other.parent is second
        assert field.field_name == name
        declared = OrderCreateSerializer._declared_fields[name]
        assert declared.parent is None and declared.field_name is None
    # The nested list and its child are new objects too, bound to their own parents.
    items = first.fields["items"]
    assert items.child is not second.fields["items"].child
    assert items.child.parent is items


def test_clone_keeps_arguments_and_messages():
    field = serializers.CharField(max_length=5, required=False, help_text="h", error_messages={"blank": "no"})
    clone = clone_field(field)
    assert clone is not field and type(clone) is serializers.CharField
    assert (clone.max_length, clone.required, clone.help_text, clone.error_messages) == (
        5,
        False,
        "h",
        field.error_messages,
    )
    clone.bind("name", serializers.Serializer())
    assert field.field_name is None and clone.field_name == "name"


def test_concurrent_validation_keeps_each_body_apart():
    results, errors = {}, []

    def validate(n):
        try:
            for _ in range(200):
                serializer = OrderCreateSerializer(
                    data={"request_id": f"r{n}", "items": [{"spare_part_id": n, "quantity": n}]}
                )
                assert serializer.is_valid(), serializer.errors
                results[n] = (serializer.validated_data["request_id"], serializer.validated_data["items"][0])
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=validate, args=(n,)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == {n: (f"r{n}", {"spare_part_id": n, "quantity": n}) for n in range(1, 9)}

"""factory-boy factories for the inventory. Parts with stock go through the service,
so the ledger holds from the start."""

from decimal import Decimal

import factory

from inventory import services
from inventory.models import Category, SparePart


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    description = "Test category"


class SparePartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SparePart

    name = factory.Sequence(lambda n: f"Part {n}")
    sku = factory.Sequence(lambda n: f"A-STL-M{n}-50")
    price = Decimal("10.00")
    stock = 10
    min_stock = 0
    category = factory.SubFactory(CategoryFactory)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.create_spare_part(**kwargs)

"""A small, realistic demo data set. Loading it twice changes nothing."""

from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from inventory import services as inventory
from inventory.models import Category, SparePart
from orders import services as orders
from orders.models import OrderStatus, ServiceOrder

CATEGORIES = {
    "Fasteners": "Bolts, nuts, washers and screws.",
    "Bearings": "Ball and roller bearings.",
    "Seals": "O-rings, gaskets and oil seals.",
    "Electrical": "Fuses, relays, contactors and cable.",
    "Hydraulics": "Hoses, fittings and filters.",
}

# (category, name, sku, price, stock, min_stock)
PARTS = [
    ("Fasteners", "Hex bolt M10x50, steel 8.8", "A-STL-M10-50", "0.45", 500, 100),
    ("Fasteners", "Hex bolt M12x60, steel 8.8", "A-STL-M12-60", "0.62", 400, 100),
    ("Fasteners", "Hex bolt M8x30, stainless A2", "A-SS-M8-30", "0.38", 300, 80),
    ("Fasteners", "Hex nut M10, steel 8", "N-STL-M10-0", "0.08", 1200, 200),
    ("Fasteners", "Hex nut M12, steel 8", "N-STL-M12-0", "0.11", 900, 200),
    ("Fasteners", "Flat washer M10, zinc", "W-ZN-M10-2", "0.03", 2000, 300),
    ("Fasteners", "Socket cap screw M6x20, steel 12.9", "S-STL-M6-20", "0.21", 600, 100),
    ("Fasteners", "Self-tapping screw 4.2x19, stainless", "S-SS-4.2-19", "0.06", 1500, 250),
    ("Bearings", "Deep groove ball bearing 6204-2RS", "B-CHR-20-47", "3.90", 60, 10),
    ("Bearings", "Deep groove ball bearing 6205-2RS", "B-CHR-25-52", "4.40", 45, 10),
    ("Bearings", "Deep groove ball bearing 6305-ZZ", "B-CHR-25-62", "6.80", 20, 5),
    ("Bearings", "Tapered roller bearing 30205", "T-CHR-25-52", "9.75", 12, 4),
    ("Bearings", "Pillow block bearing UCP205", "P-CI-25-140", "14.50", 8, 3),
    ("Bearings", "Needle roller bearing HK2020", "R-STL-20-20", "2.95", 3, 5),
    ("Seals", "O-ring 20x2, NBR 70", "O-NBR-20-2", "0.25", 400, 50),
    ("Seals", "O-ring 35x3, Viton", "O-FKM-35-3", "1.10", 150, 30),
    ("Seals", "Oil seal 25x47x7, NBR", "S-NBR-25-47", "1.85", 80, 15),
    ("Seals", "Flange gasket DN50, graphite", "G-GRF-DN50-3", "6.40", 25, 5),
    ("Seals", "Mechanical pump seal 16 mm", "M-SIC-16-40", "38.00", 4, 2),
    ("Electrical", "Fuse 10A, ceramic 5x20", "F-CER-10A-20", "0.55", 200, 40),
    ("Electrical", "Relay 24VDC, 2 changeover", "R-PLS-24V-2C", "7.90", 30, 6),
    ("Electrical", "Contactor 3-pole 9A, 230VAC coil", "C-PLS-9A-230", "24.50", 10, 3),
    ("Electrical", "Cable H07RN-F 3G2.5, per metre", "K-RUB-2.5-1M", "2.30", 250, 50),
    ("Electrical", "Limit switch, roller lever", "L-ZN-IP67-30", "18.90", 6, 2),
    ("Hydraulics", "Hydraulic hose 1/2in, 2SN, per metre", "H-RUB-12-1M", "11.20", 60, 10),
    ("Hydraulics", "Hose fitting 1/2in BSP female", "F-STL-12-BSP", "4.60", 70, 15),
    ("Hydraulics", "Return filter element 10 micron", "E-CEL-10U-160", "21.00", 9, 4),
    ("Hydraulics", "Quick coupler 3/8in, ISO-A", "Q-STL-38-ISOA", "15.30", 14, 4),
    ("Hydraulics", "Pressure gauge 0-250 bar, 63 mm", "G-SS-250B-63", "19.80", 5, 2),
    ("Hydraulics", "Hydraulic oil HLP 46, 20 l", "O-MIN-46-20L", "79.00", 7, 2),
]

# (request_id, client, phone, email, description, lines [(sku, qty)], status path)
ORDERS = [
    (
        "demo-order-1",
        "Talleres Rivera",
        "+57 301 555 0101",
        "compras@talleresrivera.example",
        "Replace worn bearings on conveyor 2.",
        [("B-CHR-20-47", 2), ("A-STL-M10-50", 8), ("N-STL-M10-0", 8)],
        [OrderStatus.IN_PROGRESS],
    ),
    (
        "demo-order-2",
        "Panadería La Espiga",
        "+57 310 555 0202",
        "",
        "Dough mixer: new oil seal and O-rings.",
        [("S-NBR-25-47", 1), ("O-NBR-20-2", 4)],
        [OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED],
    ),
    (
        "demo-order-3",
        "Hotel Mirador",
        "+57 320 555 0303",
        "mantenimiento@mirador.example",
        "Pump room: mechanical seal and gasket.",
        [("M-SIC-16-40", 1), ("G-GRF-DN50-3", 2)],
        [],
    ),
    (
        "demo-order-4",
        "Lavandería Express",
        "",
        "",
        "Quote only; client declined.",
        [("C-PLS-9A-230", 1)],
        [OrderStatus.CANCELLED],
    ),
]


class Command(BaseCommand):
    help = "Load demo categories, spare parts and orders (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        categories = {}
        for name, description in CATEGORIES.items():
            categories[name] = Category.objects.filter(name__iexact=name).first() or inventory.create_category(
                name=name, description=description
            )
        created_parts = 0
        for category, name, sku, price, stock, min_stock in PARTS:
            if not SparePart.objects.filter(sku=sku).exists():
                inventory.create_spare_part(
                    name=name,
                    sku=sku,
                    price=Decimal(price),
                    stock=stock,
                    min_stock=min_stock,
                    category=categories[category],
                )
                created_parts += 1
        ids = dict(SparePart.objects.values_list("sku", "id"))
        created_orders = 0
        for request_id, client, phone, email, description, lines, path in ORDERS:
            if ServiceOrder.objects.filter(request_id=request_id, created_by=None).exists():
                continue
            order = orders.place_order(
                request_id=request_id,
                client_name=client,
                client_phone=phone,
                client_email=email,
                description=description,
                items=[{"spare_part_id": ids[sku], "quantity": quantity} for sku, quantity in lines],
                created_by=None,
            ).order
            for status in path:
                orders.change_status(order.pk, status)
            created_orders += 1
        self.stdout.write(f"Demo data: {created_parts} parts and {created_orders} orders added.")

"""The staff roles, as Django groups with model permissions (created by a data migration)."""

INVENTORY_MANAGERS = "Inventory managers"
TECHNICIANS = "Technicians"
VIEWERS = "Viewers"

_VIEW_ALL = [
    "inventory.view_category",
    "inventory.view_sparepart",
    "inventory.view_stockmovement",
    "orders.view_serviceorder",
    "orders.view_serviceorderitem",
    "media_uploads.view_serviceorderimage",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    INVENTORY_MANAGERS: [
        *_VIEW_ALL,
        "inventory.add_category",
        "inventory.change_category",
        "inventory.delete_category",
        "inventory.add_sparepart",
        "inventory.change_sparepart",
        "inventory.delete_sparepart",
        "inventory.add_stockmovement",
    ],
    TECHNICIANS: [
        *_VIEW_ALL,
        "orders.add_serviceorder",
        "orders.change_serviceorder",
        "orders.add_serviceorderitem",
        "orders.change_serviceorderitem",
        "orders.delete_serviceorderitem",
        "media_uploads.add_serviceorderimage",
        "media_uploads.delete_serviceorderimage",
    ],
    VIEWERS: list(_VIEW_ALL),
}

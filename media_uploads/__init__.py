"""Photos of service orders, stored in S3 through django-storages."""

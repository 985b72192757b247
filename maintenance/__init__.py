"""The Maintenance Service project package: settings, URLs and cross-cutting parts."""

from django.db import models


class RequestCount(models.Model):
    """How many requests one client made in one throttle window (maintenance.api.throttling).

    In the database so that a limit holds across worker processes and app servers: a count per
    process let a 60/minute limit through about 900 times a minute on 3 replicas of 5 workers.
    """

    key = models.CharField(max_length=200)
    window = models.BigIntegerField(help_text="The window's number: its start time divided by its length.")
    count = models.PositiveIntegerField(default=0)
    # When the next window no longer weighs this one: purge_request_counts deletes it after that.
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window"], name="api_request_count_unique")]

    def __str__(self) -> str:
        return f"{self.key} [{self.window}]: {self.count}"

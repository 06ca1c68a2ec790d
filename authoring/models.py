"""Proposals: a person's change to a marketplace's skills, carried as a pull request."""
import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse

from marketplace.models import Marketplace


class Proposal(models.Model):
    class Kind(models.TextChoices):
        ADD = "add", "New skill"
        UPDATE = "update", "Change to a skill"
        REMOVE = "remove", "Removal of a skill"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        MERGED = "merged", "Merged"
        CLOSED = "closed", "Closed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    marketplace = models.ForeignKey(Marketplace, on_delete=models.CASCADE, related_name="proposals")
    proposer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="proposals")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    plugin = models.CharField(max_length=200)
    skill = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    branch = models.CharField(max_length=255)
    commit = models.CharField(max_length=40, blank=True, help_text="The proposal's one commit.")
    url = models.URLField(max_length=1000, blank=True,
                          help_text="The pull request; else the host's page that opens one for the pushed branch.")
    number = models.PositiveIntegerField(null=True, blank=True, help_text="The pull request's number on GitHub.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    instructions = models.TextField(blank=True, help_text="Off GitHub: how to open the merge request.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["marketplace", "number"], name="proposal_pull")]

    def __str__(self):
        return f"{self.marketplace.slug}/{self.plugin}/{self.skill} ({self.get_kind_display()})"

    def get_absolute_url(self):
        return reverse("authoring:proposal", args=[self.id])

from django.contrib import admin

from .models import Proposal


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = ["__str__", "proposer", "state", "created"]
    list_filter = ["state", "kind", "marketplace"]
    search_fields = ["plugin", "skill", "proposer__username", "branch"]
    readonly_fields = [f.name for f in Proposal._meta.fields]

    def has_add_permission(self, request):
        return False  # proposals are made by people through Skillport, never typed in

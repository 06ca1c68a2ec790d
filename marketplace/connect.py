"""The Connect Claude page: how to reach this Skillport from each Claude surface, in install.py's words."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import install


@login_required
def connect(request):
    # The curated catalogue of each marketplace the user may see, where Claude Code can fetch its plugins.
    catalogues = install.curated_marketplaces(request.user)
    return render(request, "marketplace/connect.html", {
        "connector": install.connector(), "catalogues": catalogues,
        "settings": install.claude_code_settings(catalogues) if catalogues else "",
    })

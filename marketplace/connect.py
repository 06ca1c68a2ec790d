"""The Connect Claude page: how to reach this Skillport from each Claude surface, in install.py's words."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import install
from .models import Marketplace


@login_required
def connect(request):
    marketplaces = Marketplace.objects.visible_to(request.user).order_by("slug")
    return render(request, "marketplace/connect.html", {
        "connector": install.connector(),
        # The curated catalogue of each marketplace the user may see, where Claude Code can fetch its plugins.
        "catalogues": [(m, add) for m in marketplaces if (add := install.curated_add(m))],
    })

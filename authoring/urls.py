from django.urls import path

from . import pages, views

app_name = "authoring"
urlpatterns = [
    path("", views.mine, name="mine"),
    path("<uuid:pk>/", views.proposal, name="proposal"),
    path("new/", pages.contribute, name="contribute"),
    path("edit/<str:marketplace>/<str:plugin>/<str:skill>/", pages.edit, name="edit"),
    path("preview/", pages.preview, name="preview"),
]

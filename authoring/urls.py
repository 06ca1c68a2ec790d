from django.urls import path

from . import views

app_name = "authoring"
urlpatterns = [
    path("", views.mine, name="mine"),
    path("<uuid:pk>/", views.proposal, name="proposal"),
]

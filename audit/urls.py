from django.urls import path

from . import views

app_name = "audit"
urlpatterns = [
    path("", views.event_list, name="events"),
    path("events/<int:pk>/", views.event_detail, name="event"),
    path("skills/<str:marketplace>/<str:plugin>/<str:skill>/", views.skill_history, name="skill"),
    path("users/<str:login>/", views.user_history, name="user"),
    path("export.csv", views.export, {"fmt": "csv"}, name="export-csv"),
    path("export.jsonl", views.export, {"fmt": "jsonl"}, name="export-jsonl"),
]

from django.urls import path

from . import connect, views, webhooks

app_name = "marketplace"
skill = "skills/<str:marketplace>/<str:plugin>/<str:skill>/"
urlpatterns = [
    path("", views.home, name="home"),
    path("skills/", views.skill_search, name="search"),
    path("connect/", connect.connect, name="connect"),
    path(skill, views.skill_detail, name="skill"),
    path(f"{skill}files/<path:path>", views.skill_file, name="file"),
    path(f"{skill}history/", views.skill_history, name="history"),
    path(f"{skill}download/", views.skill_download, name="download"),
    path("plugins/<str:marketplace>/<str:plugin>/", views.plugin_detail, name="plugin"),
    path("marketplaces/<str:marketplace>/", views.marketplace_detail, name="marketplace"),
    path("webhooks/github/<str:marketplace>", webhooks.github, name="webhook"),
    path("m/<str:marketplace>/marketplace.json", views.curated_catalogue, name="curated"),
]

"""A second URLconf, for the test that a skill's URL follows the one in force (test_catalogue)."""
from django.urls import include, path

from marketplace import views

app_urls = ([path("elsewhere/<str:marketplace>/<str:plugin>/<str:skill>/", views.skill_detail, name="skill")],
            "marketplace")

urlpatterns = [path("", include(app_urls))]

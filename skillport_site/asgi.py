"""The ASGI entry point production runs: gunicorn with uvicorn workers."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillport_site.settings")

application = get_asgi_application()

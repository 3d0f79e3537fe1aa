"""WSGI entry point: production serves HTTP with gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dtexchange.settings")
application = get_wsgi_application()

"""Django's admin app, with the staff admin site (accounts/admin_site.py) as
the default site: every ``admin.register`` lands on it."""

from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    default_site = "accounts.admin_site.StaffAdminSite"

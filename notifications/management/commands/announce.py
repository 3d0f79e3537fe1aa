from django.core.management.base import BaseCommand, CommandError

from notifications.models import Announcement
from notifications.services import announcement_post


class Command(BaseCommand):
    help = "Post an announcement to every connected user of the site."

    def add_arguments(self, parser):
        parser.add_argument("text", help="The announcement's text.")
        parser.add_argument("--title", default="", help="A short title.")
        parser.add_argument(
            "--level", default=Announcement.Level.INFO, choices=Announcement.Level.values
        )

    def handle(self, *args, text: str, title: str, level: str, **options):
        if not text.strip():
            raise CommandError("The announcement text is empty.")
        announcement = announcement_post(body=text, title=title, level=level)
        self.stdout.write(f"Announcement #{announcement.pk} posted.")

"""Staff announcements: admin and `manage.py announce` publish to every socket."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import CommandError, call_command
from django.test import Client

from dtexchange.asgi import application
from notifications.models import Announcement, OutboxEvent
from tests.notifications.conftest import run
from tests.staff import staff_sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_announce_command_reaches_anonymous_sockets():
    async def scenario():
        ws = WebsocketCommunicator(
            application, "/ws/trading", headers=[(b"origin", b"http://127.0.0.1")]
        )
        assert (await ws.connect())[0]
        await sync_to_async(call_command)(
            "announce", "Mobile money payouts resume at 18:00.", "--title", "Maintenance"
        )
        message = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return message

    message = run(scenario)
    assert message["type"] == "announcement"
    assert message["data"]["body"] == "Mobile money payouts resume at 18:00."
    assert message["data"]["title"] == "Maintenance"
    assert Announcement.objects.get().body == "Mobile money payouts resume at 18:00."


def test_announce_refuses_empty_text():
    with pytest.raises(CommandError):
        call_command("announce", "   ")
    assert not OutboxEvent.objects.exists()


def test_staff_posts_an_announcement_from_the_admin(make_user):
    staff = make_user("staff@example.com", is_staff=True, is_superuser=True)
    client = Client()
    staff_sign_in(client, staff)
    response = client.post(
        "/admin/notifications/announcement/add/",
        {"title": "New coin", "body": "TRX trading is open.", "level": "info"},
    )
    assert response.status_code == 302, response.content[:500]
    announcement = Announcement.objects.get()
    assert announcement.created_by == staff
    event = OutboxEvent.objects.get(kind="announcement")
    assert event.payload["body"] == "TRX trading is open."
    assert event.user_id is None
    assert event.deliveries.get().status == "delivered"

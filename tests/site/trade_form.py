"""Driving the trade page's plain form posts (no JavaScript): the review
step, and the confirm step's hidden fields as the page sends them."""

import re


def review_step(client, data):
    response = client.post("/trade/", {**data, "step": "review"})
    assert response.status_code == 200, response.content.decode()[:3000]
    return response


def confirm_fields(response) -> dict:
    html = response.content.decode()
    form = html[html.index('id="confirm-form"') :]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
    fields["step"] = "confirm"
    return fields

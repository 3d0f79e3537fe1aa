import pytest
from django.contrib.staticfiles import finders
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

AUTH_PATHS = {
    "/api/auth/register",
    "/api/auth/verify-email",
    "/api/auth/resend-code",
    "/api/auth/token",
    "/api/auth/token/refresh",
    "/api/auth/logout",
    "/api/auth/me",
    "/api/auth/me/export",
    "/api/auth/me/erase",
    "/api/auth/me/authenticator",
    "/api/auth/me/authenticator/confirm",
    "/api/auth/me/authenticator/remove",
}


def test_auth_schema_has_no_warnings_or_errors():
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/auth/", include("accounts.urls"))])
    schema = generator.get_schema(request=None, public=True)
    assert dict(GENERATOR_STATS._warn_cache) == {}
    assert dict(GENERATOR_STATS._error_cache) == {}
    validate_schema(schema)  # OpenAPI 3 JSON-schema check
    assert set(schema["paths"]) == AUTH_PATHS
    register = schema["paths"]["/api/auth/register"]["post"]
    # Its own answers plus those every operation can give (405, 406, 429, 500, 503).
    assert set(register["responses"]) == {"202", "400", "405", "406", "429", "500", "503"}
    assert register["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RegisterInputRequest"
    }
    assert {"VerifyEmailOutput", "MeOutput", "TokenPair", "ApiError400"} <= set(
        schema["components"]["schemas"]
    )


@pytest.mark.django_db
def test_schema_and_swagger_ui_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert set(schema.json()["paths"]) >= AUTH_PATHS

    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
    bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert bundle in html
    assert finders.find(bundle.removeprefix("/static/"))
    # Served by the web process itself (WhiteNoise), as under Daphne.
    asset = client.get(bundle)
    assert asset.status_code == 200
    assert b"SwaggerUIBundle" in b"".join(asset.streaming_content)

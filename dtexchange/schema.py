"""OpenAPI schema generation (drf-spectacular) for the whole project."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    """Names components after the view that nests them.

    Every view here nests serializers named ``Input`` and ``Output``
    (CONVENTIONS); drf-spectacular would call them all "Input"/"Output" and
    warn about the clash. ``RegisterApi.Input`` becomes ``RegisterInput``.
    """

    def get_serializer_name(self, serializer, direction) -> str:
        qualname = type(serializer).__qualname__.replace("<locals>.", "")
        if "." not in qualname:
            return super().get_serializer_name(serializer, direction)
        parts = qualname.split(".")
        outer = [p.removesuffix("Api").removesuffix("View") or p for p in parts[:-1]]
        return "".join([*outer, parts[-1]])
